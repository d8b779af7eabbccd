// An NVMe/RDMA queue: accept, its request slots, CM events, close and drain.
#include "plugins/transport_rdma/rdma_queue.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <rdma/rdma_cma.h>
#include <utility>

#include "core/runtime/log.hpp"
#include "plugins/transport_rdma/rdma_lane.hpp"
#include "plugins/transport_rdma/rdma_transport.hpp"

namespace nvmfd::plugins::rdma {

namespace {
// How long a closing queue waits for its posted work requests to come back
// flushed before it is torn down anyway (a device that stopped answering).
constexpr std::chrono::seconds kDrainTimeout{4};
}  // namespace

RdmaQueue::RdmaQueue(RdmaTransport& transport, RdmaReactor& owner, IncomingQueue incoming)
    : transport_(transport),
      owner_(owner),
      options_(transport.options()),
      id_(incoming.id),
      request_(incoming.request),
      host_read_depth_(incoming.host_read_depth),
      port_id_(incoming.port_id),
      peer_(std::move(incoming.peer)),
      pending_address_(std::move(incoming.pending_address)) {}

RdmaQueue::~RdmaQueue() {
    if (!handler_) {
        // Never accepted: refuse the host.
        auto reject = make_reject(proto::rdma::CmStatus::NoResources);
        ::rdma_reject(id_, reject.data(), static_cast<uint8_t>(reject.size()));
    }
    if (timer_) reactor().cancel_timer(timer_);
    reactor().buffers().cancel_wait(*this);
    if (bound_) owner_.unbind(qp_num_);
    if (qp_) ::rdma_destroy_qp(id_);
    if (lane_ && cq_reserved_) lane_->release_completions(cq_reserved_);
    stop_pending();
    ::rdma_destroy_id(id_);
}

runtime::Reactor& RdmaQueue::reactor() { return owner_.reactor(); }
ibv_context* RdmaQueue::device() const { return id_->verbs; }

bool RdmaQueue::accept(std::string& why) {
    started_ = runtime::Clock::now();
    id_->context = this;
    if (::rdma_migrate_id(id_, owner_.channel()) != 0) {
        why = fmt::format("rdma_migrate_id: {}", std::strerror(errno));
        return false;
    }
    auto lane = owner_.lane_for(id_->verbs);
    if (!lane) {
        why = lane.error().message;
        return false;
    }
    lane_ = *lane;
    const ibv_device_attr& dev = lane_->device();
    max_sge_ = static_cast<uint32_t>(std::clamp(dev.max_sge, 1, 32));
    max_read_sge_ = dev.max_sge_rd > 0 ? std::min<uint32_t>(static_cast<uint32_t>(dev.max_sge_rd), max_sge_) : max_sge_;
    // Room for every slot's largest command at once: its READs or WRITEs
    // plus the response SEND. A device with a smaller limit gets what it
    // has; slots then wait for room in turn.
    uint32_t per_command = max_wrs_for_length(options_.max_data_transfer, std::min(max_sge_, max_read_sge_)) + 1;
    uint64_t want = uint64_t(request_.depth) * per_command;
    sq_size_ = static_cast<uint32_t>(std::min<uint64_t>(want, static_cast<uint64_t>(std::max(dev.max_qp_wr, 1))));
    if (sq_size_ < per_command) {
        why = fmt::format("the device's queue pairs hold {} work requests, a command may need {}", dev.max_qp_wr,
                          per_command);
        return false;
    }
    // Even unsignaled work requests complete when they fail: reserve for all.
    if (!lane_->reserve_completions(sq_size_)) {
        why = fmt::format("the completion queue of reactor {} on {} is full", reactor().id(),
                          ::ibv_get_device_name(id_->verbs->device));
        return false;
    }
    cq_reserved_ = sq_size_;

    ibv_qp_init_attr attr{};
    attr.qp_context = this;
    attr.send_cq = lane_->cq();
    attr.recv_cq = lane_->cq();
    attr.srq = lane_->srq();
    attr.qp_type = IBV_QPT_RC;
    attr.sq_sig_all = 0;
    attr.cap.max_send_wr = sq_size_;
    attr.cap.max_send_sge = max_sge_;
    attr.cap.max_inline_data = sizeof(proto::Cqe);
    if (::rdma_create_qp(id_, lane_->pd(), &attr) != 0) {
        why = fmt::format("rdma_create_qp ({} send work requests, {} scatter entries, 16 bytes inline): {}", sq_size_,
                          max_sge_, std::strerror(errno));
        return false;
    }
    qp_ = id_->qp;
    qp_num_ = qp_->qp_num;
    if (attr.cap.max_inline_data < sizeof(proto::Cqe)) {
        why = "the device cannot send a 16-byte response inline";
        return false;
    }
    owner_.bind(qp_num_, this);
    bound_ = true;

    handler_ = transport_.env().create_queue(*this, port_id_, transport_.limits());
    bootstrap_ = std::make_unique<RdmaRequest>(0);

    auto reply = make_reply(request_.depth);
    rdma_conn_param param{};
    param.private_data = reply.data();
    param.private_data_len = static_cast<uint8_t>(reply.size());
    param.responder_resources = 0;  // the host never reads from us
    param.initiator_depth = static_cast<uint8_t>(std::min<uint32_t>(
        {options_.max_read_depth, static_cast<uint32_t>(std::max(dev.max_qp_init_rd_atom, 0)), host_read_depth_}));
    param.rnr_retry_count = 7;  // a host must retry while the shared receive queue is empty
    param.flow_control = 1;
    if (::rdma_accept(id_, &param) != 0) {
        int err = errno;
        handler_->on_close_begin();
        handler_->on_closed();
        why = fmt::format("rdma_accept: {}", std::strerror(err));
        handler_.reset();
        return false;
    }
    check_connect_timeout();
    log::debug("rdma: {} queue {} accepted on reactor {} (depth {}, {} send work requests, {} reads at once)", peer_,
               request_.qid, reactor().id(), request_.depth, sq_size_, int(param.initiator_depth));
    return true;
}

plugin::ConnectBinding RdmaQueue::connect_binding() const {
    return plugin::ConnectBinding{request_.qid, request_.depth};
}

bool RdmaQueue::install_queue(uint16_t qid, uint32_t depth) {
    if (!slots_.empty() || depth == 0 || depth > request_.depth) return false;
    slots_.reserve(depth);
    for (uint32_t i = 0; i < depth; ++i) slots_.push_back(std::make_unique<RdmaRequest>(static_cast<uint16_t>(i + 1)));
    free_slots_.reserve(depth);
    for (uint32_t i = depth; i-- > 0;) free_slots_.push_back(static_cast<uint16_t>(i));
    log::debug("rdma: {} queue {} installed with depth {}", peer_, qid, depth);
    stop_pending();
    return true;
}

void RdmaQueue::stop_pending() {
    if (!pending_address_.empty()) transport_.pending().release(std::exchange(pending_address_, {}));
}

// ---------------------------------------------------------------- CM events

void RdmaQueue::on_cm_event(const rdma_cm_event& ev) {
    switch (ev.event) {
    case RDMA_CM_EVENT_ESTABLISHED: established_ = true; break;
    case RDMA_CM_EVENT_DISCONNECTED: close("the host disconnected"); break;
    case RDMA_CM_EVENT_TIMEWAIT_EXIT: break;  // queue pairs are never reused
    case RDMA_CM_EVENT_DEVICE_REMOVAL:
        close("its RDMA device was removed");
        transport_.device_removed(id_->verbs);  // the other queues and lanes on it go too
        break;
    case RDMA_CM_EVENT_ADDR_CHANGE: close("the address of its RDMA device changed"); break;
    case RDMA_CM_EVENT_CONNECT_ERROR:
    case RDMA_CM_EVENT_UNREACHABLE:
    case RDMA_CM_EVENT_REJECTED:
        log::notice("rdma: queue from {} failed to connect: {}", peer_, ::rdma_event_str(ev.event));
        close(::rdma_event_str(ev.event));
        break;
    default: log::debug("rdma: {}: RDMA CM event {} ignored", peer_, ::rdma_event_str(ev.event)); break;
    }
}

void RdmaQueue::on_communication_established() {
    // The CM then moves the connection on as if the RTU had come (it may be lost).
    if (!established_ && ::rdma_notify(id_, IBV_EVENT_COMM_EST) != 0)
        log::debug("rdma: {}: rdma_notify: {}", peer_, std::strerror(errno));
}

// ---------------------------------------------------------------- timeouts

void RdmaQueue::check_connect_timeout() {
    if (closing_) return;
    bool connected = !slots_.empty() && handler_->established();
    if (connected) return;  // from now on keep-alive watches the host
    auto now = runtime::Clock::now();
    if (now - started_ > options_.connect_timeout) {
        std::string reason = fmt::format("no {} within {} ms of the RDMA CM accept",
                                         slots_.empty() ? "Connect" : "Connect and authentication",
                                         options_.connect_timeout.count());
        log::notice("rdma: closing queue from {}: {}", peer_, reason);
        close(reason);
        return;
    }
    auto period = std::clamp(options_.connect_timeout / 4, std::chrono::milliseconds(25),
                             std::chrono::milliseconds(5000));
    timer_ = reactor().add_timer(period, [this] {
        timer_ = 0;
        check_connect_timeout();
    });
}

// ---------------------------------------------------------------- close

void RdmaQueue::close(std::string_view reason) {
    if (closing_) return;
    closing_ = true;
    close_reason_ = std::string(reason);
    log::debug("rdma: closing queue from {}: {}", peer_, reason);
    if (timer_) reactor().cancel_timer(std::exchange(timer_, 0));
    reactor().buffers().cancel_wait(*this);
    // Slots waiting for pages or send queue room never reach the wire:
    // finish_close() releases them.
    for (RdmaRequest* r : waiting_buffers_)
        if (r->held_receive >= 0) lane_->repost(static_cast<uint32_t>(std::exchange(r->held_receive, -1)));
    waiting_buffers_.clear();
    waiting_credits_.clear();
    // The core completes what it is holding back (AERs); those responses are dropped.
    handler_->on_close_begin();
    finish_close_if_drained();
}

void RdmaQueue::finish_close_if_drained() {
    if (!closing_ || dead_) return;
    if (!disconnecting_) {
        // Commands the core is executing finish first: their backend I/O must
        // be done before the host sees the queue gone and retries elsewhere.
        bool executing = false;
        for_each_slot([&](RdmaRequest& r) { executing |= r.state == SlotState::Executing; });
        if (executing) return;
        disconnect();
    }
    if (sq_used_ == 0) finish_close();
}

void RdmaQueue::disconnect() {
    disconnecting_ = true;
    post_pending();
    // The queue pair goes to the error state: everything posted comes back
    // (flushed), which is what the drain waits for.
    ::rdma_disconnect(id_);
    ibv_qp_attr attr{};
    attr.qp_state = IBV_QPS_ERR;
    ::ibv_modify_qp(qp_, &attr, IBV_QP_STATE);
    timer_ = reactor().add_timer(kDrainTimeout, [this] {
        timer_ = 0;
        if (dead_) return;
        log::warn("rdma: queue from {}: {} send work requests not back {} s after disconnect; tearing it down",
                  peer_, sq_used_, kDrainTimeout.count());
        sq_used_ = 0;
        finish_close();
    });
}

void RdmaQueue::finish_close() {
    dead_ = true;
    if (timer_) reactor().cancel_timer(std::exchange(timer_, 0));
    post_head_ = post_tail_ = nullptr;
    for_each_slot([&](RdmaRequest& r) {
        r.sq_entries = 0;
        if (r.state != SlotState::Free) release_slot(r);
    });
    handler_->on_closed();
    // Completions still on their way (only after the drain timeout) find no queue.
    owner_.unbind(qp_num_);
    bound_ = false;
    ::rdma_destroy_qp(id_);
    qp_ = nullptr;
    lane_->release_completions(std::exchange(cq_reserved_, 0));
    log::info("rdma: queue from {} closed ({}){}", peer_, close_reason_,
              copied_reads_ ? fmt::format("; the data of {} reads was copied into registered memory first", copied_reads_)
                            : std::string());
    owner_.forget(*this);  // deleted once the loop turn is over
}

// ---------------------------------------------------------------- slots

RdmaRequest* RdmaQueue::take_slot() {
    RdmaRequest* r = nullptr;
    if (slots_.empty()) {
        if (bootstrap_->state == SlotState::Free) r = bootstrap_.get();
    } else if (!free_slots_.empty()) {
        r = slots_[free_slots_.back()].get();
        free_slots_.pop_back();
    }
    if (r) {
        if (!move_slot(*r, SlotState::Executing)) return nullptr;
        r->iov_count = 0;
        r->buffer_owner = plugin::BufferOwner::None;
        r->held_receive = -1;
        r->bounce_count = 0;
        r->wr_count = 0;
        r->fetching = false;
    }
    return r;
}

void RdmaQueue::release_slot(RdmaRequest& r) {
    if (!move_slot(r, SlotState::Free)) return;  // never twice: two commands would share it
    if (r.held_receive >= 0) lane_->repost(static_cast<uint32_t>(std::exchange(r.held_receive, -1)));
    if (r.bounce_count)
        reactor().buffers().release(std::span<const iovec>(r.bounce.data(), std::exchange(r.bounce_count, 0)));
    handler_->release(r);
    if (&r != bootstrap_.get()) free_slots_.push_back(static_cast<uint16_t>(r.index - 1));
}

RdmaRequest* RdmaQueue::slot_by_index(uint32_t index) {
    if (index == 0) return bootstrap_.get();
    if (index - 1u < slots_.size()) return slots_[index - 1].get();
    return nullptr;
}

void RdmaQueue::refuse_slot_move(const RdmaRequest& r, SlotState to) {
    internal_error(fmt::format("slot {} (command {}) cannot go from {} to {}", r.index, r.sqe.cid,
                               slot_state_name(r.state), slot_state_name(to)));
}

void RdmaQueue::internal_error(std::string_view what) {
    // A transport bug costs this host its queue, never another host's commands.
    log::error("rdma: {}: internal error: {}; closing the queue", peer_, what);
    close(fmt::format("internal error: {}", what));
}

}  // namespace nvmfd::plugins::rdma
