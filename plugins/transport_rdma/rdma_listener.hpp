// One port's RDMA CM listener, served by reactor 0: its event channel's fd
// is in the reactor's epoll set. Connect requests are checked against the
// NVMe/RDMA private data rules and refused with the spec's status, or handed
// to the least loaded reactor, which accepts them (RdmaReactor::adopt).
// Refusals are logged at notice level, at most once a second per port (a
// host that retries in a loop must not flood the journal).
#pragma once

#include <cstdint>
#include <string>

#include "core/runtime/reactor.hpp"
#include "plugins/transport_rdma/rdma_private_data.hpp"

struct rdma_cm_id;
struct rdma_cm_event;
struct rdma_event_channel;

namespace nvmfd::plugins::rdma {

class RdmaTransport;

class RdmaListener final : private runtime::FdHandler {
public:
    // Takes the bound, listening id and its channel.
    RdmaListener(RdmaTransport& t, runtime::Reactor& r, rdma_event_channel* channel, rdma_cm_id* id,
                 uint16_t port_id);
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
    void refuse(rdma_cm_id* id, const std::string& peer, proto::rdma::CmStatus status, const std::string& why);

    RdmaTransport& transport_;
    runtime::Reactor& reactor_;
    rdma_event_channel* channel_;
    rdma_cm_id* id_;
    uint16_t port_id_;
    bool started_ = false;

    // Refusals logged once per interval; the rest counted and reported when
    // the interval ends.
    void report_unreported();
    runtime::Clock::time_point last_report_{};
    unsigned unreported_ = 0;
    runtime::Reactor::TimerId report_timer_ = 0;
};

}  // namespace nvmfd::plugins::rdma
