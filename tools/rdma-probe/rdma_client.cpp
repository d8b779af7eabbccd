#include "tools/rdma-probe/rdma_client.hpp"

#include <cerrno>
#include <cstring>
#include <netdb.h>
#include <poll.h>
#include <stdexcept>

#include <fmt/format.h>

namespace nvmfd::rdma_probe {
namespace {

constexpr uint64_t kRecvId = 1, kSendId = 2;

[[noreturn]] void fail(std::string_view what) {
    throw std::runtime_error(fmt::format("{}: {}", what, std::strerror(errno)));
}

// One signaled work request of one scatter entry.
ibv_send_wr signaled(ibv_sge& sge, ibv_wr_opcode opcode) {
    ibv_send_wr wr{};
    wr.wr_id = kSendId;
    wr.sg_list = &sge;
    wr.num_sge = 1;
    wr.opcode = opcode;
    wr.send_flags = IBV_SEND_SIGNALED;
    return wr;
}

}  // namespace

RdmaClient::RdmaClient(std::string address, std::string port)
    : address_(std::move(address)), port_(std::move(port)), data_(2u << 20) {
    if (!(channel_ = ::rdma_create_event_channel())) fail("rdma_create_event_channel");
    if (::rdma_create_id(channel_, &id_, nullptr, RDMA_PS_TCP) != 0) fail("rdma_create_id");
}

RdmaClient::~RdmaClient() {
    if (connected_) ::rdma_disconnect(id_);
    if (id_ && id_->qp) ::rdma_destroy_qp(id_);
    if (data_mr_) ::ibv_dereg_mr(data_mr_);
    if (msg_mr_) ::ibv_dereg_mr(msg_mr_);
    if (cq_) ::ibv_destroy_cq(cq_);
    if (pd_) ::ibv_dealloc_pd(pd_);
    if (id_) ::rdma_destroy_id(id_);
    if (channel_) ::rdma_destroy_event_channel(channel_);
}

bool RdmaClient::wait_event(rdma_cm_event_type want, std::chrono::milliseconds timeout, rdma_cm_event_type& got,
                            std::optional<uint16_t>* reject_status) {
    pollfd p{channel_->fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return false;
    rdma_cm_event* ev = nullptr;
    if (::rdma_get_cm_event(channel_, &ev) != 0) fail("rdma_get_cm_event");
    got = ev->event;
    if (got == RDMA_CM_EVENT_REJECTED && reject_status && ev->param.conn.private_data &&
        ev->param.conn.private_data_len >= sizeof(proto::rdma::CmReject)) {
        proto::rdma::CmReject rej;
        std::memcpy(&rej, ev->param.conn.private_data, sizeof rej);
        *reject_status = uint16_t(rej.status);
    }
    ::rdma_ack_cm_event(ev);
    return got == want;
}

std::optional<rdma_cm_event_type> RdmaClient::wait_any_event(std::chrono::milliseconds timeout) {
    pollfd p{channel_->fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return std::nullopt;
    rdma_cm_event_type got{};
    wait_event(RDMA_CM_EVENT_DEVICE_REMOVAL, timeout, got);  // readable: returns at once
    connected_ = false;  // the connection is over either way
    return got;
}

ConnectOutcome RdmaClient::connect(const proto::rdma::CmRequest& request, std::chrono::milliseconds timeout) {
    ConnectOutcome out;
    addrinfo hints{}, *res = nullptr;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
    if (::getaddrinfo(address_.c_str(), port_.c_str(), &hints, &res) != 0) throw std::runtime_error("bad address");
    int rc = ::rdma_resolve_addr(id_, nullptr, res->ai_addr, static_cast<int>(timeout.count()));
    ::freeaddrinfo(res);
    if (rc != 0) fail("rdma_resolve_addr");
    rdma_cm_event_type got{};
    if (!wait_event(RDMA_CM_EVENT_ADDR_RESOLVED, timeout, got)) throw std::runtime_error("address not resolved");
    if (::rdma_resolve_route(id_, static_cast<int>(timeout.count())) != 0) fail("rdma_resolve_route");
    if (!wait_event(RDMA_CM_EVENT_ROUTE_RESOLVED, timeout, got)) throw std::runtime_error("route not resolved");

    if (!(pd_ = ::ibv_alloc_pd(id_->verbs))) fail("ibv_alloc_pd");
    if (!(cq_ = ::ibv_create_cq(id_->verbs, 64, nullptr, nullptr, 0))) fail("ibv_create_cq");
    int access = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_WRITE;
    if (!(data_mr_ = ::ibv_reg_mr(pd_, data_.data(), data_.size(), access))) fail("ibv_reg_mr");
    if (!(msg_mr_ = ::ibv_reg_mr(pd_, sqe_buf_, sizeof sqe_buf_ + sizeof cqe_buf_, IBV_ACCESS_LOCAL_WRITE)))
        fail("ibv_reg_mr");
    ibv_qp_init_attr qa{};
    qa.send_cq = qa.recv_cq = cq_;
    qa.qp_type = IBV_QPT_RC;
    qa.cap.max_send_wr = 16;
    qa.cap.max_recv_wr = 16;
    qa.cap.max_send_sge = qa.cap.max_recv_sge = 1;
    if (::rdma_create_qp(id_, pd_, &qa) != 0) fail("rdma_create_qp");

    rdma_conn_param param{};
    param.private_data = &request;
    param.private_data_len = sizeof request;
    param.responder_resources = 16;  // the target reads Connect's data from us
    param.initiator_depth = 0;
    param.retry_count = 7;
    param.rnr_retry_count = 7;
    param.flow_control = 1;
    if (::rdma_connect(id_, &param) != 0) fail("rdma_connect");
    bool ok = wait_event(RDMA_CM_EVENT_ESTABLISHED, timeout, got, &out.reject_status);
    out.event = ::rdma_event_str(got);
    out.established = connected_ = ok;
    return out;
}

CommandOutcome RdmaClient::submit(const proto::Sqe& sqe, std::chrono::milliseconds timeout) {
    CommandOutcome out;
    ibv_sge rsge{reinterpret_cast<uint64_t>(cqe_buf_), sizeof cqe_buf_, msg_mr_->lkey};
    ibv_recv_wr rwr{};
    rwr.wr_id = kRecvId;
    rwr.sg_list = &rsge;
    rwr.num_sge = 1;
    ibv_recv_wr* rbad = nullptr;
    if (::ibv_post_recv(id_->qp, &rwr, &rbad) != 0) {
        out.failure = "posting a receive failed";
        return out;
    }
    std::memcpy(sqe_buf_, &sqe, sizeof sqe);
    ibv_sge ssge{reinterpret_cast<uint64_t>(sqe_buf_), sizeof sqe, msg_mr_->lkey};
    ibv_send_wr swr = signaled(ssge, IBV_WR_SEND);
    ibv_send_wr* sbad = nullptr;
    if (::ibv_post_send(id_->qp, &swr, &sbad) != 0) {
        out.failure = "posting the command failed";
        return out;
    }
    auto deadline = std::chrono::steady_clock::now() + timeout;
    bool sent = false, answered = false;
    while (!(sent && answered)) {
        ibv_wc wc{};
        int n = ::ibv_poll_cq(cq_, 1, &wc);
        if (n == 0) {
            if (std::chrono::steady_clock::now() > deadline) {
                out.failure = "no response in time";
                return out;
            }
            continue;
        }
        if (wc.status != IBV_WC_SUCCESS) {
            out.failure = fmt::format("{} completed with {}", wc.wr_id == kSendId ? "the command" : "the receive",
                                      ::ibv_wc_status_str(wc.status));
            return out;
        }
        if (wc.wr_id == kSendId) sent = true;
        else answered = true;
    }
    proto::Cqe cqe;
    std::memcpy(&cqe, cqe_buf_, sizeof cqe);
    out.cqe = cqe;
    return out;
}

std::string RdmaClient::rdma_write(uint64_t remote_address, uint32_t rkey, std::chrono::milliseconds timeout) {
    ibv_sge sge{data_address(), 512, data_mr_->lkey};
    ibv_send_wr wr = signaled(sge, IBV_WR_RDMA_WRITE);
    wr.wr.rdma.remote_addr = remote_address;
    wr.wr.rdma.rkey = rkey;
    ibv_send_wr* bad = nullptr;
    if (::ibv_post_send(id_->qp, &wr, &bad) != 0) return "not posted";
    auto deadline = std::chrono::steady_clock::now() + timeout;
    ibv_wc wc{};
    while (::ibv_poll_cq(cq_, 1, &wc) == 0)
        if (std::chrono::steady_clock::now() > deadline) return "no completion in time";
    return ::ibv_wc_status_str(wc.status);
}

}  // namespace nvmfd::rdma_probe
