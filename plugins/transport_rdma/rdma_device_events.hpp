// A device's asynchronous events (ibv_get_async_event), read on reactor 0:
// its async fd is in the reactor's epoll set. One per device nvmfd has a
// lane on, made when the first lane is. What they mean for nvmfd:
// - a queue pair failed (QP_FATAL, QP_REQ_ERR, QP_ACCESS_ERR: a host that
//   wrote to memory it was never given, for one): its queue is closed. A
//   queue pair in error with nothing posted gives no completion and no CM
//   event, so without this the queue would wait for keep-alive, or forever
//   when the host disabled it;
// - COMM_EST: a host's first capsule came before the CM's RTU; the CM is
//   told (rdma_notify), as the kernel's nvmet does;
// - DEVICE_FATAL: handled as a removal of the device;
// - a port's link going down or up, CQ and SRQ errors: logged.
#pragma once

#include <infiniband/verbs.h>
#include <string>

#include "core/runtime/reactor.hpp"

namespace nvmfd::plugins::rdma {

class RdmaTransport;

class RdmaDeviceEvents final : private runtime::FdHandler {
public:
    // Reactor 0's thread.
    RdmaDeviceEvents(RdmaTransport& transport, runtime::Reactor& reactor, ibv_context* device);
    ~RdmaDeviceEvents();
    RdmaDeviceEvents(const RdmaDeviceEvents&) = delete;
    RdmaDeviceEvents& operator=(const RdmaDeviceEvents&) = delete;

private:
    void on_fd_event(uint32_t) override;
    void handle(const ibv_async_event& ev);

    RdmaTransport& transport_;
    runtime::Reactor& reactor_;
    ibv_context* device_;
    std::string name_;
    bool watching_ = false;
};

}  // namespace nvmfd::plugins::rdma
