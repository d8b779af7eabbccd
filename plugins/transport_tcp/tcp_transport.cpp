#include "plugins/transport_tcp/tcp_transport.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>
#include <unordered_map>

#include "core/plugin/abi.hpp"
#include "core/runtime/log.hpp"
#include "plugins/transport_tcp/tcp_connection.hpp"
#include "plugins/transport_tcp/tcp_listener.hpp"

namespace nvmfd::plugins::tcp {
namespace {

constexpr const char* kLocalKey = "transport.tcp";

// The connections a reactor owns.
struct ReactorConnections final : runtime::ReactorLocal {
    std::unordered_map<TcpConnection*, std::unique_ptr<TcpConnection>> live;
};

ReactorConnections& connections_of(runtime::Reactor& r) {
    auto* local = static_cast<ReactorConnections*>(r.local(kLocalKey));
    if (!local) {
        auto fresh = std::make_unique<ReactorConnections>();
        local = fresh.get();
        r.set_local(kLocalKey, std::move(fresh));
    }
    return *local;
}

}  // namespace

TcpTransport::TcpTransport(plugin::TransportEnv& env, TcpOptions options)
    : env_(env), options_(options), pending_(env.connection_limits().max_pending_per_address) {}

TcpTransport::~TcpTransport() {
    stop_listening();
    close_connections(-1);
}

plugin::TransportLimits TcpTransport::limits() const {
    plugin::TransportLimits l;
    l.in_capsule_data_size = options_.in_capsule_data_size;
    l.max_data_transfer = options_.max_data_transfer;
    l.trtype = proto::TransportType::Tcp;
    l.keyed_sgl = false;  // data the host does not put in the capsule moves by R2T/H2CData and C2HData
    return l;
}

Result<void> TcpTransport::add_port(const plugin::PortConfig& port) {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
    if (port.family == "ipv4") hints.ai_family = AF_INET;
    else if (port.family == "ipv6") hints.ai_family = AF_INET6;
    else return make_error(ErrorCode::InvalidArgument, "address family must be ipv4 or ipv6", "family");
    addrinfo* res = nullptr;
    int rc = ::getaddrinfo(port.address.c_str(), port.service.c_str(), &hints, &res);
    if (rc != 0 || !res)
        return make_error(ErrorCode::InvalidArgument,
                          fmt::format("'{}' port '{}' is not a numeric {} address and port: {}", port.address,
                                      port.service, port.family, ::gai_strerror(rc)),
                          "address");
    std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> guard(res, ::freeaddrinfo);
    int fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return make_error(ErrorCode::Io, fmt::format("socket: {}", std::strerror(errno)));
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (res->ai_family == AF_INET6) ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (::bind(fd, res->ai_addr, res->ai_addrlen) != 0 || ::listen(fd, options_.listen_backlog) != 0) {
        int err = errno;
        ::close(fd);
        return make_error(err == EADDRINUSE ? ErrorCode::Busy : ErrorCode::Io,
                          fmt::format("cannot listen on {}:{}: {}", port.address, port.service, std::strerror(err)),
                          "address");
    }
    if (port.secure_channel != plugin::SecureChannel::None && !tls_.ctx()) {
        ::close(fd);
        return make_error(ErrorCode::Internal, "OpenSSL could not set up TLS for the secure channel", "secure_channel");
    }
    auto listener = std::make_unique<Listener>(*this, env_.reactors().at(0), fd, port.id, port.secure_channel);
    Listener* l = listener.get();
    {
        std::lock_guard lock(listeners_mutex_);
        if (listeners_.count(port.id))
            return make_error(ErrorCode::AlreadyExists, fmt::format("port {} is already listening", port.id), "id");
        listeners_[port.id] = std::move(listener);
    }
    l->reactor().run_and_wait([l] { l->start(); });
    // An IPv6 address in brackets, as the rdma transport writes it.
    const bool v6 = port.address.find(':') != std::string::npos;
    log::info("tcp: listening on {}{}{}:{} (port {})", v6 ? "[" : "", port.address, v6 ? "]" : "", port.service,
              port.id);
    return {};
}

void TcpTransport::remove_port(uint16_t port_id) {
    std::unique_ptr<Listener> l;
    {
        std::lock_guard lock(listeners_mutex_);
        auto it = listeners_.find(port_id);
        if (it != listeners_.end()) {
            l = std::move(it->second);
            listeners_.erase(it);
        }
    }
    if (l) {
        Listener* raw = l.get();
        raw->reactor().run_and_wait([raw] { raw->stop(); });
    }
    close_connections(port_id);
}

void TcpTransport::stop_listening() {
    std::map<uint16_t, std::unique_ptr<Listener>> all;
    {
        std::lock_guard lock(listeners_mutex_);
        all.swap(listeners_);
    }
    for (auto& [id, l] : all) {
        Listener* raw = l.get();
        raw->reactor().run_and_wait([raw] { raw->stop(); });
    }
}

void TcpTransport::close_connections(int port_id) {
    // Ask every reactor to close the matching connections, then wait until
    // they are gone (their in-flight commands finish first).
    auto& group = env_.reactors();
    for (int attempt = 0; attempt < 5000; ++attempt) {
        std::atomic<size_t> remaining{0};
        group.run_on_all([&](runtime::Reactor& r) {
            auto& conns = connections_of(r);
            for (auto& [raw, conn] : conns.live) {
                if (port_id >= 0 && conn->port_id() != port_id) continue;
                if (!conn->closed()) conn->close(port_id >= 0 ? "port removed" : "target shutting down");
                ++remaining;
            }
        });
        if (remaining == 0) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    log::warn("tcp: connections still draining after 10 s");
}

void TcpTransport::adopt(runtime::Reactor& reactor, int fd, uint16_t port_id, std::string peer,
                         std::string address, plugin::SecureChannel secure) {
    auto conn = std::make_unique<TcpConnection>(*this, reactor, fd, port_id, std::move(peer), std::move(address),
                                                secure);
    TcpConnection* raw = conn.get();
    connections_of(reactor).live.emplace(raw, std::move(conn));
    raw->start();
}

void TcpTransport::forget(TcpConnection& conn) {
    runtime::Reactor& r = conn.reactor();
    TcpConnection* raw = &conn;
    // Deleted when the reactor next runs its messages: usually the next loop
    // turn, but it may be this one, before its deferred work (a flush the
    // connection queued is then dropped with it; see Deferred).
    r.post([&r, raw] { connections_of(r).live.erase(raw); });
}

plugin::DiscoveryAddress TcpTransport::discovery_address(const plugin::PortConfig& port) const {
    plugin::DiscoveryAddress a;
    a.trtype = proto::TransportType::Tcp;
    a.adrfam = port.family == "ipv6" ? proto::AddressFamily::Ipv6 : proto::AddressFamily::Ipv4;
    // TREQ and TSAS.SECTYPE (TP 8011): TLS 1.3 offered, and whether it is required.
    a.treq = (port.secure_channel == plugin::SecureChannel::Required ? proto::treq::kSecureChannelRequired
                                                                      : proto::treq::kSecureChannelNotRequired) |
             proto::treq::kDisableSqFlowControl;
    a.traddr = port.address;
    a.trsvcid = port.service;
    a.tsas[0] = port.secure_channel == plugin::SecureChannel::None ? proto::kTcpSectypeNone : proto::kTcpSectypeTls13;
    return a;
}

namespace {

std::unique_ptr<plugin::Transport> create(plugin::TransportEnv& env, const plugin::Params& params) {
    auto opts = parse_tcp_options(params);
    if (!opts) {
        log::error("tcp transport: {}", opts.error().describe());
        return nullptr;
    }
    return std::make_unique<TcpTransport>(env, *opts);
}

}  // namespace
}  // namespace nvmfd::plugins::tcp

NVMFD_PLUGIN((nvmfd::plugin::PluginDescriptor{nvmfd::plugin::PluginKind::Transport, "tcp",
                                              "NVMe/TCP (NVMe over Fabrics TCP transport 1.0)",
                                              nvmfd::plugins::tcp::create, nullptr}))
