// The NVMe/RDMA transport plugin (issue 11): ports listened on through the
// RDMA CM on reactor 0; each accepted queue is owned by one reactor, whose
// RdmaReactor holds its RDMA state (docs/rdma-design.md).
#pragma once

#include <atomic>
#include <infiniband/verbs.h>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "core/plugin/pending_connections.hpp"
#include "core/plugin/transport.hpp"
#include "core/runtime/reactor.hpp"
#include "plugins/transport_rdma/rdma_options.hpp"

namespace nvmfd::plugins::rdma {

class RdmaDeviceEvents;
class RdmaListener;

// What a device's asynchronous event says of a queue pair.
enum class QueuePairEvent { Failed, Established };

class RdmaTransport final : public plugin::Transport {
public:
    RdmaTransport(plugin::TransportEnv& env, RdmaOptions options);
    ~RdmaTransport() override;

    std::string_view name() const override { return "rdma"; }
    plugin::TransportLimits limits() const override;
    Result<void> add_port(const plugin::PortConfig& port) override;
    void remove_port(uint16_t port_id) override;
    plugin::DiscoveryAddress discovery_address(const plugin::PortConfig& port) const override;
    void stop_listening() override;
    // Backend memory is registered on every lane (register_backend_memory).
    bool registers_lent_memory() const override { return options_.register_backend_memory; }
    void memory_lent(std::span<const std::byte> range) override;
    void memory_withdrawn(std::span<const std::byte> range) override;
    // The ranges lent now, for a lane being made (any thread).
    std::vector<std::span<const std::byte>> lent_ranges() const;

    plugin::TransportEnv& env() { return env_; }
    const RdmaOptions& options() const { return options_; }
    plugin::PendingConnections& pending() { return pending_; }

    // An RDMA device is being removed (the RDMA CM said so on one of its
    // ids); any thread, any number of times. Every reactor closes its
    // queues on the device and frees its lane; once all have, librdmacm is
    // asked to close the device, which lets the kernel finish the removal
    // (a provider without hardware disassociation, rxe for one, waits for it).
    void device_removed(ibv_context* device);
    // One more reactor has no queue or lane left on `device` (reactor threads).
    void device_released(ibv_context* device);
    // A lane was made on `device`: read its asynchronous events (any thread).
    void watch_device(ibv_context* device);
    // From a device's asynchronous events (reactor 0): tell the queue's owner.
    void queue_pair_event(ibv_qp* qp, QueuePairEvent event, const char* what);

private:
    // Every reactor's RdmaReactor, made when the first port is added.
    Result<void> prepare_reactors();
    void close_queues(int port_id);
    void settle_handovers();

    plugin::TransportEnv& env_;
    const RdmaOptions options_;
    std::mutex listeners_mutex_;
    std::map<uint16_t, std::unique_ptr<RdmaListener>> listeners_;
    plugin::PendingConnections pending_;
    std::atomic<bool> reactors_ready_{false};  // set under listeners_mutex_
    mutable std::mutex lent_mutex_;
    std::vector<std::span<const std::byte>> lent_;

    // Devices being removed: how many reactors still hold them.
    std::mutex removals_mutex_;
    std::map<ibv_context*, unsigned> removals_;
    // Released devices librdmacm still lists, looked at again by a timer, and
    // the devices whose events are read (reactor 0's thread only).
    void close_released_devices();
    std::map<ibv_context*, std::string> unclosed_;
    std::map<ibv_context*, std::unique_ptr<RdmaDeviceEvents>> watched_;
    runtime::Reactor::TimerId close_timer_ = 0;
    unsigned close_attempts_ = 0;
};

}  // namespace nvmfd::plugins::rdma
