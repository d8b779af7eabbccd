// The NVMe/TCP transport plugin: listeners per port, connections spread
// over the reactors, and the registry that lets ports and shutdown close
// them.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "core/plugin/pending_connections.hpp"
#include "core/plugin/transport.hpp"
#include "core/runtime/reactor.hpp"
#include "plugins/transport_tcp/tcp_options.hpp"
#include "plugins/transport_tcp/tls_server.hpp"

namespace nvmfd::plugins::tcp {

class TcpConnection;
class Listener;

class TcpTransport final : public plugin::Transport {
public:
    TcpTransport(plugin::TransportEnv& env, TcpOptions options);
    ~TcpTransport() override;

    std::string_view name() const override { return "tcp"; }
    plugin::TransportLimits limits() const override;
    Result<void> add_port(const plugin::PortConfig& port) override;
    void remove_port(uint16_t port_id) override;
    plugin::DiscoveryAddress discovery_address(const plugin::PortConfig& port) const override;
    void stop_listening() override;

    plugin::TransportEnv& env() { return env_; }
    const TcpOptions& options() const { return options_; }
    plugin::PendingConnections& pending() { return pending_; }

    // Reactor threads. `address` was counted in pending() by the listener.
    void adopt(runtime::Reactor& reactor, int fd, uint16_t port_id, std::string peer, std::string address,
               plugin::SecureChannel secure);
    const TlsServer& tls() const { return tls_; }
    void forget(TcpConnection& conn);

private:
    void close_connections(int port_id);  // -1: all

    plugin::TransportEnv& env_;
    const TcpOptions options_;
    plugin::PendingConnections pending_;
    TlsServer tls_;
    std::mutex listeners_mutex_;
    std::map<uint16_t, std::unique_ptr<Listener>> listeners_;
};

}  // namespace nvmfd::plugins::tcp
