#include "plugins/transport_rdma/rdma_device_events.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/epoll.h>

#include "core/runtime/log.hpp"
#include "plugins/transport_rdma/rdma_transport.hpp"

namespace nvmfd::plugins::rdma {

RdmaDeviceEvents::RdmaDeviceEvents(RdmaTransport& transport, runtime::Reactor& reactor, ibv_context* device)
    : transport_(transport), reactor_(reactor), device_(device), name_(::ibv_get_device_name(device->device)) {
    // librdmacm opened the context and never reads its events: ours to read.
    int flags = ::fcntl(device_->async_fd, F_GETFL);
    if (flags < 0 || ::fcntl(device_->async_fd, F_SETFL, flags | O_NONBLOCK) != 0) {
        log::warn("rdma: {}: its asynchronous events will not be read: {}", name_, std::strerror(errno));
        return;
    }
    reactor_.add_fd(device_->async_fd, EPOLLIN, *this);
    watching_ = true;
}

RdmaDeviceEvents::~RdmaDeviceEvents() {
    if (watching_) reactor_.remove_fd(device_->async_fd);
}

void RdmaDeviceEvents::on_fd_event(uint32_t) {
    for (int i = 0; i < 64; ++i) {
        ibv_async_event ev{};
        if (::ibv_get_async_event(device_, &ev) != 0) return;  // EAGAIN: none left
        handle(ev);
        // Acknowledged at once: destroying a queue pair waits for its events.
        ::ibv_ack_async_event(&ev);
    }
}

void RdmaDeviceEvents::handle(const ibv_async_event& ev) {
    const char* what = ::ibv_event_type_str(ev.event_type);
    switch (ev.event_type) {
    case IBV_EVENT_QP_FATAL:
    case IBV_EVENT_QP_REQ_ERR:
    case IBV_EVENT_QP_ACCESS_ERR:
    case IBV_EVENT_PATH_MIG_ERR:
        log::notice("rdma: {}: queue pair {} failed ({}): closing its queue", name_, ev.element.qp->qp_num, what);
        transport_.queue_pair_event(ev.element.qp, QueuePairEvent::Failed, what);
        break;
    case IBV_EVENT_COMM_EST: transport_.queue_pair_event(ev.element.qp, QueuePairEvent::Established, what); break;
    case IBV_EVENT_DEVICE_FATAL:
        log::error("rdma: {}: the device reported a fatal error: handling it as removed", name_);
        transport_.device_removed(device_);
        break;
    case IBV_EVENT_PORT_ERR: log::warn("rdma: {}: port {} is down", name_, ev.element.port_num); break;
    case IBV_EVENT_PORT_ACTIVE: log::notice("rdma: {}: port {} is up", name_, ev.element.port_num); break;
    case IBV_EVENT_CQ_ERR:
    case IBV_EVENT_SRQ_ERR:
        // Not seen on any device here; the queues on that lane stop getting
        // completions and go at keep-alive.
        log::error("rdma: {}: {}", name_, what);
        break;
    default: log::debug("rdma: {}: {}", name_, what); break;
    }
}

}  // namespace nvmfd::plugins::rdma
