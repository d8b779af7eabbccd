// The NVMe/RDMA transport plugin (issue 11): ports listened on through the
// RDMA CM on reactor 0; each accepted queue is owned by one reactor, whose
// RdmaReactor holds its RDMA state (docs/rdma-design.md).
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>

#include "core/plugin/pending_connections.hpp"
#include "core/plugin/transport.hpp"
#include "plugins/transport_rdma/rdma_options.hpp"

namespace nvmfd::plugins::rdma {

class RdmaListener;

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

    plugin::TransportEnv& env() { return env_; }
    const RdmaOptions& options() const { return options_; }
    plugin::PendingConnections& pending() { return pending_; }

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
};

}  // namespace nvmfd::plugins::rdma
