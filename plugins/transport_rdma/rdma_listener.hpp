// One port's RDMA CM listener, served by reactor 0: its event channel's fd
// is in the reactor's epoll set. Connect requests are checked against the
// NVMe/RDMA private data rules and refused with the spec's status, or handed
// to the least loaded reactor, which accepts them (RdmaReactor::adopt).
// Refusals are logged at notice level, at most once a second per port (a
// host that retries in a loop must not flood the journal).
// When the port's RDMA device is removed the listener lets go of it (so the
// kernel can finish the removal), reports the port down, and tries to
// listen again every few seconds: a device that comes back (a replaced
// adapter, `rdma link add`) serves again without an admin.
#pragma once

#include <cerrno>
#include <cstdint>
#include <string>
#include <sys/socket.h>

#include "core/plugin/transport.hpp"
#include "core/runtime/error.hpp"
#include "core/runtime/reactor.hpp"
#include "plugins/transport_rdma/rdma_private_data.hpp"

struct rdma_cm_id;
struct rdma_cm_event;
struct rdma_event_channel;

namespace nvmfd::plugins::rdma {

class RdmaTransport;

// librdmacm reports a machine or an address without an RDMA device (or
// without the rdma_ucm module) as one of these.
inline bool no_rdma_device(int err) { return err == ENODEV || err == ENOENT || err == ENXIO; }

// HOST:SERVICE, an IPv6 host in brackets (as a peer is logged).
std::string endpoint(const std::string& host, const std::string& service);

// A new id on `channel`, bound to `address` and listening; the error names
// the field at fault (address: not an RDMA device's, or in use).
Result<rdma_cm_id*> listen_on(rdma_event_channel* channel, const sockaddr* address, const std::string& host,
                              const std::string& service, int backlog);

class RdmaListener final : private runtime::FdHandler {
public:
    // Takes the bound, listening id and its channel.
    RdmaListener(RdmaTransport& t, runtime::Reactor& r, rdma_event_channel* channel, rdma_cm_id* id,
                 const plugin::PortConfig& port, const sockaddr* address);
    ~RdmaListener();
    RdmaListener(const RdmaListener&) = delete;
    RdmaListener& operator=(const RdmaListener&) = delete;

    // Reactor thread.
    void start();
    void stop();
    runtime::Reactor& reactor() { return reactor_; }

private:
    void on_fd_event(uint32_t) override;
    void on_connect_request(rdma_cm_event& ev);
    void on_device_removal();
    void schedule_relisten();
    void try_listen_again();
    void refuse(rdma_cm_id* id, const std::string& peer, proto::rdma::CmStatus status, const std::string& why);

    RdmaTransport& transport_;
    runtime::Reactor& reactor_;
    rdma_event_channel* channel_;
    rdma_cm_id* id_;  // null while its device is gone
    uint16_t port_id_;
    std::string host_, service_;
    sockaddr_storage address_{};
    bool started_ = false;
    runtime::Reactor::TimerId relisten_timer_ = 0;

    // Refusals logged once per interval; the rest counted and reported when
    // the interval ends.
    void report_unreported();
    runtime::Clock::time_point last_report_{};
    unsigned unreported_ = 0;
    runtime::Reactor::TimerId report_timer_ = 0;
};

}  // namespace nvmfd::plugins::rdma
