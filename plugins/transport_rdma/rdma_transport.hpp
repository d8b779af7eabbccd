// The NVMe/RDMA transport plugin (issue 11): ports listened on through the
// RDMA CM. This build checks each host's connect request and answers it
// with a reject: the queues' data path (verbs, completion queues, RDMA
// READ/WRITE) is the next slice (docs/rdma-design.md).
#pragma once

#include <map>
#include <memory>
#include <mutex>

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

private:
    plugin::TransportEnv& env_;
    const RdmaOptions options_;
    std::mutex listeners_mutex_;
    std::map<uint16_t, std::unique_ptr<RdmaListener>> listeners_;
};

}  // namespace nvmfd::plugins::rdma
