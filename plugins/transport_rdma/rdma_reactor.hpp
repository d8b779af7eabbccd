// The RDMA transport's state on one reactor: its own RDMA CM event channel
// (the queues it owns are migrated to it, so that their events are read,
// handled and acknowledged on the thread that owns them), a lane per RDMA
// device, and the queues, found by queue pair number when a completion
// arrives. Its poller reaps the lanes' completion queues; before the reactor
// sleeps it arms them. Created on every reactor when the transport's first
// port is added; reactor thread only, except channel().
#pragma once

#include <cstdint>
#include <infiniband/verbs.h>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <unordered_map>

#include "core/runtime/error.hpp"
#include "core/runtime/reactor.hpp"
#include "plugins/transport_rdma/rdma_private_data.hpp"

struct rdma_cm_id;
struct rdma_event_channel;

namespace nvmfd::plugins::rdma {

class RdmaLane;
class RdmaQueue;
class RdmaTransport;
enum class QueuePairEvent;

// A connect request that passed the checks, on its way to the reactor that
// will own the queue.
struct IncomingQueue {
    rdma_cm_id* id = nullptr;
    QueueRequest request{};
    uint8_t host_read_depth = 0;  // RDMA READs the host will serve at once (its responder resources)
    uint16_t port_id = 0;
    std::string peer;
    std::string pending_address;  // counted in the transport's PendingConnections
};

class RdmaReactor final : public runtime::ReactorLocal, private runtime::Poller, private runtime::FdHandler {
public:
    static constexpr const char* kLocalKey = "transport.rdma";

    RdmaReactor(RdmaTransport& transport, runtime::Reactor& reactor, rdma_event_channel* channel);
    ~RdmaReactor() override;
    static RdmaReactor* of(runtime::Reactor& r) { return static_cast<RdmaReactor*>(r.local(kLocalKey)); }

    rdma_event_channel* channel() const { return channel_; }  // any thread: never changes
    runtime::Reactor& reactor() { return reactor_; }

    // Accept the queue on this reactor, or reject it (NO_RSC) and say why.
    void adopt(IncomingQueue incoming);
    // Ask the matching queues (port_id < 0: all) to close; counts those not gone yet.
    size_t close_queues(int port_id, std::string_view reason);
    void forget(RdmaQueue& q);  // deleted at the next turn
    // `device` is being removed: close the queues on it, free its lane once
    // they are gone, then tell the transport. No new queue gets a lane on it.
    void retire_device(ibv_context* device);
    // A device event for queue pair `qp_num` (at `qp`, compared only: the
    // number may be reused by then): close its queue, or tell the CM.
    void queue_pair_event(const ibv_qp* qp, uint32_t qp_num, QueuePairEvent event, std::string_view what);

    // Backend memory lent for reads: registered on every lane, or let go.
    void lend(std::span<const std::byte> range);
    void withdraw(std::span<const std::byte> range);

    // The lane of `ctx` on this reactor, made on first use (with every lent range registered).
    Result<RdmaLane*> lane_for(ibv_context* ctx);
    void bind(uint32_t qp_num, RdmaQueue* q);
    void unbind(uint32_t qp_num);
    void on_completion(RdmaLane& lane, const ibv_wc& wc);

private:
    bool poll() override;
    bool before_sleep() override;
    void on_fd_event(uint32_t) override;
    void release_retired_devices();

    RdmaTransport& transport_;
    runtime::Reactor& reactor_;
    rdma_event_channel* channel_;
    std::map<ibv_context*, std::unique_ptr<RdmaLane>> lanes_;
    std::unordered_map<uint32_t, RdmaQueue*> by_qp_;
    std::unordered_map<RdmaQueue*, std::unique_ptr<RdmaQueue>> live_;
    std::set<ibv_context*> retiring_;
};

}  // namespace nvmfd::plugins::rdma
