#include "plugins/transport_rdma/rdma_reactor.hpp"

#include <cerrno>
#include <cstring>
#include <rdma/rdma_cma.h>
#include <sys/epoll.h>

#include "core/runtime/log.hpp"
#include "plugins/transport_rdma/rdma_lane.hpp"
#include "plugins/transport_rdma/rdma_queue.hpp"
#include "plugins/transport_rdma/rdma_request.hpp"
#include "plugins/transport_rdma/rdma_transport.hpp"

namespace nvmfd::plugins::rdma {

RdmaReactor::RdmaReactor(RdmaTransport& transport, runtime::Reactor& reactor, rdma_event_channel* channel)
    : transport_(transport), reactor_(reactor), channel_(channel) {
    reactor_.add_fd(channel_->fd, EPOLLIN, *this);
    reactor_.add_poller(*this);
}

RdmaReactor::~RdmaReactor() {
    // The queues are closed and gone before this (RdmaTransport's destructor).
    live_.clear();
    reactor_.remove_poller(*this);
    reactor_.remove_fd(channel_->fd);
    lanes_.clear();
    ::rdma_destroy_event_channel(channel_);
}

void RdmaReactor::adopt(IncomingQueue incoming) {
    std::string peer = incoming.peer;
    uint16_t port = incoming.port_id;
    auto q = std::make_unique<RdmaQueue>(transport_, *this, std::move(incoming));
    std::string why;
    if (!q->accept(why)) {
        // Its destructor refused the host and released what it held.
        log::notice("rdma: port {}: connect request from {} refused with NO_RSC ({})", port, peer, why);
        return;
    }
    RdmaQueue* raw = q.get();
    live_.emplace(raw, std::move(q));
    reactor_.adjust_load(1);
}

size_t RdmaReactor::close_queues(int port_id, std::string_view reason) {
    size_t remaining = 0;
    for (auto& [raw, q] : live_) {
        if (port_id >= 0 && q->port_id() != port_id) continue;
        if (!q->closed()) q->close(reason);
        ++remaining;
    }
    return remaining;
}

void RdmaReactor::forget(RdmaQueue& q) {
    RdmaQueue* raw = &q;
    reactor_.post([this, raw] {
        if (live_.erase(raw)) reactor_.adjust_load(-1);
        release_retired_devices();
    });
}

void RdmaReactor::retire_device(ibv_context* device) {
    if (!retiring_.insert(device).second) return;
    for (auto& [raw, q] : live_)
        if (q->device() == device && !q->closed()) q->close("its RDMA device is being removed");
    release_retired_devices();
}

void RdmaReactor::queue_pair_event(const ibv_qp* qp, uint32_t qp_num, QueuePairEvent event, std::string_view what) {
    auto it = by_qp_.find(qp_num);
    if (it == by_qp_.end() || it->second->queue_pair() != qp) return;
    RdmaQueue& q = *it->second;
    if (event == QueuePairEvent::Established) q.on_communication_established();
    else q.close(fmt::format("queue pair error: {}", what));
}

void RdmaReactor::release_retired_devices() {
    for (auto it = retiring_.begin(); it != retiring_.end();) {
        ibv_context* device = *it;
        bool in_use = false;
        for (auto& [raw, q] : live_) in_use |= q->device() == device;
        if (in_use) {
            ++it;
            continue;
        }
        // Its queue pairs are destroyed: the lane's completion queue, shared
        // receive queue, registrations and protection domain can go.
        lanes_.erase(device);
        it = retiring_.erase(it);
        transport_.device_released(device);
    }
}

Result<RdmaLane*> RdmaReactor::lane_for(ibv_context* ctx) {
    if (retiring_.count(ctx))
        return make_error(ErrorCode::NotSupported,
                          fmt::format("RDMA device {} is being removed", ::ibv_get_device_name(ctx->device)),
                          "transport");
    auto it = lanes_.find(ctx);
    if (it != lanes_.end()) return it->second.get();
    auto lane = RdmaLane::create(*this, reactor_, ctx, transport_.options());
    if (!lane) return nvmfd::unexpected(lane.error());
    RdmaLane* raw = lane->get();
    for (auto range : transport_.lent_ranges()) raw->register_lent(range);
    lanes_.emplace(ctx, std::move(*lane));
    transport_.watch_device(ctx);
    return raw;
}

void RdmaReactor::lend(std::span<const std::byte> range) {
    for (auto& [ctx, lane] : lanes_) lane->register_lent(range);
}

void RdmaReactor::withdraw(std::span<const std::byte> range) {
    for (auto& [ctx, lane] : lanes_) lane->deregister_lent(range);
}

void RdmaReactor::bind(uint32_t qp_num, RdmaQueue* q) { by_qp_[qp_num] = q; }
void RdmaReactor::unbind(uint32_t qp_num) { by_qp_.erase(qp_num); }

void RdmaReactor::on_completion(RdmaLane& lane, const ibv_wc& wc) {
    auto it = by_qp_.find(wc.qp_num);
    if (wr_kind(wc.wr_id) == WrKind::Receive) {
        if (it != by_qp_.end()) it->second->on_receive(lane, wc);
        else if (wc.status == IBV_WC_SUCCESS || wc.status == IBV_WC_WR_FLUSH_ERR)
            lane.repost(wr_index(wc.wr_id));  // a capsule for a queue that is gone
        return;
    }
    if (it != by_qp_.end()) it->second->on_send_completion(wc);
}

bool RdmaReactor::poll() {
    bool any = false;
    for (auto& [ctx, lane] : lanes_) any |= lane->poll();
    return any;
}

bool RdmaReactor::before_sleep() {
    bool any = false;
    for (auto& [ctx, lane] : lanes_) any |= lane->arm();
    return any;
}

void RdmaReactor::on_fd_event(uint32_t) {
    for (int i = 0; i < 64; ++i) {
        rdma_cm_event* ev = nullptr;
        if (::rdma_get_cm_event(channel_, &ev) != 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                log::warn("rdma: reactor {}: reading RDMA CM events: {}", reactor_.id(), std::strerror(errno));
            return;
        }
        // The queue outlives its id's events: it destroys the id only once
        // they are all acknowledged, and each is acknowledged right here.
        if (auto* q = static_cast<RdmaQueue*>(ev->id ? ev->id->context : nullptr)) q->on_cm_event(*ev);
        ::rdma_ack_cm_event(ev);
    }
}

}  // namespace nvmfd::plugins::rdma
