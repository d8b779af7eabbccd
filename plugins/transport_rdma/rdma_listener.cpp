#include "plugins/transport_rdma/rdma_listener.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <rdma/rdma_cma.h>
#include <sys/epoll.h>
#include <utility>

#include "core/runtime/log.hpp"
#include "plugins/transport_rdma/rdma_reactor.hpp"
#include "plugins/transport_rdma/rdma_transport.hpp"

namespace nvmfd::plugins::rdma {
namespace {

constexpr std::chrono::seconds kReportInterval{1};
// How often a port whose device was removed tries to listen again.
constexpr std::chrono::seconds kRelistenInterval{2};
// NVME_AQ_DEPTH: the admin queue a Linux host asks for, and the most we take.
constexpr uint32_t kAdminQueueDepth = 32;

std::string describe(const sockaddr* sa) {
    char host[INET6_ADDRSTRLEN] = "?";
    if (!sa) return host;
    if (sa->sa_family == AF_INET) {
        auto* in = reinterpret_cast<const sockaddr_in*>(sa);
        ::inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        return fmt::format("{}:{}", host, ntohs(in->sin_port));
    }
    if (sa->sa_family == AF_INET6) {
        auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
        ::inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        return fmt::format("[{}]:{}", host, ntohs(in6->sin6_port));
    }
    return fmt::format("address family {}", sa->sa_family);
}

socklen_t address_length(const sockaddr* sa) {
    return sa->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
}

}  // namespace

std::string endpoint(const std::string& host, const std::string& service) {
    if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, service);
    return fmt::format("{}:{}", host, service);
}

Result<rdma_cm_id*> listen_on(rdma_event_channel* channel, const sockaddr* address, const std::string& host,
                              const std::string& service, int backlog) {
    rdma_cm_id* id = nullptr;
    if (::rdma_create_id(channel, &id, nullptr, RDMA_PS_TCP) != 0)
        return make_error(ErrorCode::Io, fmt::format("rdma_create_id: {}", std::strerror(errno)), "transport");
    auto fail = [id](Error e) -> Result<rdma_cm_id*> {
        ::rdma_destroy_id(id);
        return nvmfd::unexpected(std::move(e));
    };
    if (::rdma_bind_addr(id, const_cast<sockaddr*>(address)) != 0) {
        int err = errno;
        if (err == EADDRINUSE)
            return fail(Error{ErrorCode::Busy,
                              fmt::format("cannot listen on {}: {}", endpoint(host, service), std::strerror(err)),
                              "address"});
        if (err == EADDRNOTAVAIL || no_rdma_device(err))
            return fail(Error{ErrorCode::NotSupported,
                              fmt::format("{} is not the address of an RDMA device's network interface", host),
                              "address"});
        return fail(Error{ErrorCode::Io, fmt::format("cannot bind {}: {}", endpoint(host, service), std::strerror(err)),
                          "address"});
    }
    if (::rdma_listen(id, backlog) != 0)
        return fail(Error{ErrorCode::Io,
                          fmt::format("cannot listen on {}: {}", endpoint(host, service), std::strerror(errno)),
                          "address"});
    return id;
}

RdmaListener::RdmaListener(RdmaTransport& t, runtime::Reactor& r, rdma_event_channel* channel, rdma_cm_id* id,
                           const plugin::PortConfig& port, const sockaddr* address)
    : transport_(t),
      reactor_(r),
      channel_(channel),
      id_(id),
      port_id_(port.id),
      host_(port.address),
      service_(port.service) {
    std::memcpy(&address_, address, address_length(address));
}

RdmaListener::~RdmaListener() {
    // The id first: destroying it needs its events acknowledged, and they all are.
    if (id_) ::rdma_destroy_id(id_);
    ::rdma_destroy_event_channel(channel_);
}

void RdmaListener::start() {
    reactor_.add_fd(channel_->fd, EPOLLIN, *this);
    started_ = true;
}

void RdmaListener::stop() {
    if (report_timer_) reactor_.cancel_timer(std::exchange(report_timer_, 0));
    if (relisten_timer_) reactor_.cancel_timer(std::exchange(relisten_timer_, 0));
    if (std::exchange(started_, false)) reactor_.remove_fd(channel_->fd);
}

void RdmaListener::on_fd_event(uint32_t) {
    // A bounded batch per turn: other fds of reactor 0 must not wait behind a flood.
    for (int i = 0; i < 64; ++i) {
        rdma_cm_event* ev = nullptr;
        if (::rdma_get_cm_event(channel_, &ev) != 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                log::warn("rdma: port {}: reading RDMA CM events: {}", port_id_, std::strerror(errno));
            return;
        }
        switch (ev->event) {
        case RDMA_CM_EVENT_CONNECT_REQUEST: on_connect_request(*ev); break;  // acknowledges ev
        case RDMA_CM_EVENT_DEVICE_REMOVAL: {
            // Also sent for a connect request's id not yet handed over: its
            // queue hears of the removal from the transport.
            bool listening_id = ev->id == id_;
            ::rdma_ack_cm_event(ev);
            if (listening_id) on_device_removal();
            break;
        }
        case RDMA_CM_EVENT_ADDR_CHANGE:
            log::warn("rdma: port {}: the address of its RDMA device changed", port_id_);
            ::rdma_ack_cm_event(ev);
            break;
        default:
            log::debug("rdma: port {}: RDMA CM event {} ignored", port_id_, ::rdma_event_str(ev->event));
            ::rdma_ack_cm_event(ev);
            break;
        }
    }
}

void RdmaListener::on_device_removal() {
    ibv_context* device = id_->verbs;
    std::string name = device ? ::ibv_get_device_name(device->device) : "?";
    // Its events are acknowledged: the id goes now, so that librdmacm and
    // the kernel can let go of the device.
    ::rdma_destroy_id(std::exchange(id_, nullptr));
    log::warn("rdma: port {}: RDMA device {} was removed; the port takes no hosts until it is back (trying every {} s)",
              port_id_, name, kRelistenInterval.count());
    transport_.env().port_state_changed(port_id_, false, fmt::format("RDMA device {} removed", name));
    if (device) transport_.device_removed(device);
    schedule_relisten();
}

void RdmaListener::schedule_relisten() {
    relisten_timer_ = reactor_.add_timer(kRelistenInterval, [this] {
        relisten_timer_ = 0;
        try_listen_again();
    });
}

void RdmaListener::try_listen_again() {
    auto id = listen_on(channel_, reinterpret_cast<const sockaddr*>(&address_), host_, service_,
                        transport_.options().listen_backlog);
    if (!id) {
        log::debug("rdma: port {}: not listening yet: {}", port_id_, id.error().message);
        schedule_relisten();
        return;
    }
    id_ = *id;
    log::notice("rdma: listening on {} again (port {}, device {})", endpoint(host_, service_), port_id_,
                id_->verbs ? ::ibv_get_device_name(id_->verbs->device) : "any");
    transport_.env().port_state_changed(port_id_, true, "");
}

void RdmaListener::on_connect_request(rdma_cm_event& ev) {
    rdma_cm_id* id = ev.id;
    std::string peer = describe(::rdma_get_peer_addr(id));
    std::span<const uint8_t> data(static_cast<const uint8_t*>(ev.param.conn.private_data),
                                  ev.param.conn.private_data ? ev.param.conn.private_data_len : 0);
    const RdmaOptions& o = transport_.options();
    auto request = check_connect_request(data, QueueDepthLimits{.admin = kAdminQueueDepth, .io = o.max_queue_depth});
    if (!request) {
        proto::rdma::CmRequest raw{};
        if (!data.empty()) std::memcpy(&raw, data.data(), std::min(data.size(), sizeof raw));
        refuse(id, peer, request.error(),
               fmt::format("recfmt {}, qid {}, hsqsize {}, hrqsize {}, {} bytes of private data",
                           uint16_t(raw.recfmt), uint16_t(raw.qid), uint16_t(raw.hsqsize), uint16_t(raw.hrqsize),
                           data.size()));
        ::rdma_ack_cm_event(&ev);
        ::rdma_destroy_id(id);
        return;
    }
    // Before Connect only the address is known: it bounds a flood of queues.
    std::string address = peer.substr(0, peer.rfind(':'));
    uint32_t held = 0;
    if (!transport_.pending().admit(address, held)) {
        refuse(id, peer, proto::rdma::CmStatus::NoResources,
               fmt::format("{} has {} queues that have not completed Connect (max-pending-connections-per-address "
                           "= {})",
                           address, held, transport_.pending().max_per_address()));
        ::rdma_ack_cm_event(&ev);
        ::rdma_destroy_id(id);
        return;
    }
    IncomingQueue incoming{id, *request, ev.param.conn.initiator_depth, port_id_, std::move(peer), address};
    // Acknowledged first: the owner moves the id to its own channel, which
    // waits for every event of the id to be acknowledged.
    ::rdma_ack_cm_event(&ev);
    runtime::Reactor& owner = transport_.env().reactors().least_loaded();
    owner.post([&owner, incoming = std::move(incoming)]() mutable {
        if (auto* r = RdmaReactor::of(owner)) {
            r->adopt(std::move(incoming));
        } else {  // the transport is going away
            ::rdma_reject(incoming.id, nullptr, 0);
            ::rdma_destroy_id(incoming.id);
        }
    });
}

void RdmaListener::refuse(rdma_cm_id* id, const std::string& peer, proto::rdma::CmStatus status,
                          const std::string& why) {
    auto reject = make_reject(status);
    if (::rdma_reject(id, reject.data(), static_cast<uint8_t>(reject.size())) != 0)
        log::warn("rdma: port {}: rejecting {}: {}", port_id_, peer, std::strerror(errno));
    auto now = runtime::Clock::now();
    if (now - last_report_ < kReportInterval) {
        ++unreported_;
        if (!report_timer_)
            report_timer_ = reactor_.add_timer(last_report_ + kReportInterval - now, [this] {
                report_timer_ = 0;
                report_unreported();
            });
        return;
    }
    log::notice("rdma: port {}: connect request from {} refused with {} ({})", port_id_, peer,
                cm_status_name(status), why);
    last_report_ = now;
}

void RdmaListener::report_unreported() {
    if (!unreported_) return;
    log::notice("rdma: port {}: {} more connect requests refused in the last {} s", port_id_, unreported_,
                kReportInterval.count());
    unreported_ = 0;
    last_report_ = runtime::Clock::now();
}

}  // namespace nvmfd::plugins::rdma
