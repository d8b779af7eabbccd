#include "plugins/transport_rdma/rdma_transport.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <netdb.h>
#include <rdma/rdma_cma.h>

#include <atomic>
#include <thread>

#include "core/plugin/abi.hpp"
#include "core/runtime/log.hpp"
#include "plugins/transport_rdma/rdma_listener.hpp"
#include "plugins/transport_rdma/rdma_reactor.hpp"

namespace nvmfd::plugins::rdma {
namespace {

// librdmacm reports a machine without RDMA devices (or without the rdma_ucm
// module) as ENODEV or ENOENT when it first opens /dev/infiniband/rdma_cm.
bool no_rdma_device(int err) { return err == ENODEV || err == ENOENT || err == ENXIO; }

}  // namespace

RdmaTransport::RdmaTransport(plugin::TransportEnv& env, RdmaOptions options)
    : env_(env), options_(options), pending_(env.connection_limits().max_pending_per_address) {}

RdmaTransport::~RdmaTransport() {
    stop_listening();
    close_queues(-1);
    // Lanes and channels go on their own threads, before the plugin's code does.
    if (reactors_ready_)
        env_.reactors().run_on_all([](runtime::Reactor& r) { r.set_local(RdmaReactor::kLocalKey, nullptr); });
}

Result<void> RdmaTransport::prepare_reactors() {
    if (reactors_ready_) return {};
    std::atomic<int> failed_errno{0};
    env_.reactors().run_on_all([&](runtime::Reactor& r) {
        if (RdmaReactor::of(r)) return;
        rdma_event_channel* channel = ::rdma_create_event_channel();
        int flags = channel ? ::fcntl(channel->fd, F_GETFL) : -1;
        if (!channel || flags < 0 || ::fcntl(channel->fd, F_SETFL, flags | O_NONBLOCK) != 0 ||
            ::fcntl(channel->fd, F_SETFD, FD_CLOEXEC) != 0) {
            failed_errno = errno ? errno : EIO;
            if (channel) ::rdma_destroy_event_channel(channel);
            return;
        }
        r.set_local(RdmaReactor::kLocalKey, std::make_unique<RdmaReactor>(*this, r, channel));
    });
    if (failed_errno)
        return make_error(ErrorCode::Io,
                          fmt::format("cannot open the reactors' RDMA CM channels: {}", std::strerror(failed_errno)),
                          "transport");
    reactors_ready_ = true;
    return {};
}

void RdmaTransport::close_queues(int port_id) {
    if (!reactors_ready_) return;
    // Ask every reactor to close the matching queues, then wait until they
    // are gone (their in-flight commands finish and their work requests
    // come back first).
    auto& group = env_.reactors();
    for (int attempt = 0; attempt < 5000; ++attempt) {
        std::atomic<size_t> remaining{0};
        group.run_on_all([&](runtime::Reactor& r) {
            if (auto* rr = RdmaReactor::of(r))
                remaining += rr->close_queues(port_id, port_id >= 0 ? "port removed" : "target shutting down");
        });
        if (remaining == 0) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    log::warn("rdma: queues still draining after 10 s");
}

plugin::TransportLimits RdmaTransport::limits() const {
    plugin::TransportLimits l;
    l.in_capsule_data_size = options_.in_capsule_data_size;
    l.max_data_transfer = options_.max_data_transfer;
    l.trtype = proto::TransportType::Rdma;
    l.keyed_sgl = true;
    return l;
}

Result<void> RdmaTransport::add_port(const plugin::PortConfig& port) {
    addrinfo hints{};
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
    if (port.family == "ipv4") hints.ai_family = AF_INET;
    else if (port.family == "ipv6") hints.ai_family = AF_INET6;
    else return make_error(ErrorCode::InvalidArgument, "address family must be ipv4 or ipv6", "family");
    if (port.secure_channel != plugin::SecureChannel::None)
        return make_error(ErrorCode::NotSupported, "NVMe/RDMA has no TLS secure channel", "secure_channel");
    addrinfo* res = nullptr;
    int rc = ::getaddrinfo(port.address.c_str(), port.service.c_str(), &hints, &res);
    if (rc != 0 || !res)
        return make_error(ErrorCode::InvalidArgument,
                          fmt::format("'{}' port '{}' is not a numeric {} address and port: {}", port.address,
                                      port.service, port.family, ::gai_strerror(rc)),
                          "address");
    std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> address(res, ::freeaddrinfo);

    rdma_event_channel* channel = ::rdma_create_event_channel();
    if (!channel) {
        int err = errno;
        if (no_rdma_device(err))
            return make_error(ErrorCode::NotSupported,
                              "this machine has no RDMA device (/dev/infiniband/rdma_cm: load rdma_ucm and an RDMA "
                              "driver, or add a soft-RoCE device: rdma link add rxe0 type rxe netdev ETH)",
                              "transport");
        return make_error(ErrorCode::Io, fmt::format("cannot open the RDMA CM: {}", std::strerror(err)), "transport");
    }
    auto fail = [&](rdma_cm_id* id, Error e) -> Result<void> {
        if (id) ::rdma_destroy_id(id);
        ::rdma_destroy_event_channel(channel);
        return nvmfd::unexpected(std::move(e));
    };
    int flags = ::fcntl(channel->fd, F_GETFL);
    if (flags < 0 || ::fcntl(channel->fd, F_SETFL, flags | O_NONBLOCK) != 0 ||
        ::fcntl(channel->fd, F_SETFD, FD_CLOEXEC) != 0)
        return fail(nullptr, Error{ErrorCode::Io, fmt::format("RDMA CM channel: {}", std::strerror(errno)), {}});
    rdma_cm_id* id = nullptr;
    if (::rdma_create_id(channel, &id, nullptr, RDMA_PS_TCP) != 0)
        return fail(nullptr, Error{ErrorCode::Io, fmt::format("rdma_create_id: {}", std::strerror(errno)), {}});
    if (::rdma_bind_addr(id, address->ai_addr) != 0) {
        int err = errno;
        if (err == EADDRINUSE)
            return fail(id, Error{ErrorCode::Busy,
                                  fmt::format("cannot listen on {}:{}: {}", port.address, port.service,
                                              std::strerror(err)),
                                  "address"});
        if (err == EADDRNOTAVAIL || no_rdma_device(err))
            return fail(id, Error{ErrorCode::NotSupported,
                                  fmt::format("{} is not the address of an RDMA device's network interface",
                                              port.address),
                                  "address"});
        return fail(id, Error{ErrorCode::Io,
                              fmt::format("cannot bind {}:{}: {}", port.address, port.service, std::strerror(err)),
                              "address"});
    }
    if (::rdma_listen(id, options_.listen_backlog) != 0)
        return fail(id, Error{ErrorCode::Io,
                              fmt::format("cannot listen on {}:{}: {}", port.address, port.service,
                                          std::strerror(errno)),
                              "address"});

    auto listener = std::make_unique<RdmaListener>(*this, env_.reactors().at(0), channel, id, port.id);
    RdmaListener* l = listener.get();
    {
        std::lock_guard lock(listeners_mutex_);
        if (auto ready = prepare_reactors(); !ready) return ready;
        if (listeners_.count(port.id))
            return make_error(ErrorCode::AlreadyExists, fmt::format("port {} is already listening", port.id), "id");
        listeners_[port.id] = std::move(listener);
    }
    l->reactor().run_and_wait([l] { l->start(); });
    log::info("rdma: listening on {}:{} (port {}, device {})", port.address, port.service, port.id,
              id->verbs ? ::ibv_get_device_name(id->verbs->device) : "any");
    return {};
}

void RdmaTransport::remove_port(uint16_t port_id) {
    std::unique_ptr<RdmaListener> l;
    {
        std::lock_guard lock(listeners_mutex_);
        auto it = listeners_.find(port_id);
        if (it == listeners_.end()) return;
        l = std::move(it->second);
        listeners_.erase(it);
    }
    RdmaListener* raw = l.get();
    raw->reactor().run_and_wait([raw] { raw->stop(); });
    settle_handovers();
    close_queues(port_id);
}

void RdmaTransport::stop_listening() {
    std::map<uint16_t, std::unique_ptr<RdmaListener>> all;
    {
        std::lock_guard lock(listeners_mutex_);
        all.swap(listeners_);
    }
    for (auto& [id, l] : all) {
        RdmaListener* raw = l.get();
        raw->reactor().run_and_wait([raw] { raw->stop(); });
    }
    settle_handovers();
}

void RdmaTransport::settle_handovers() {
    // Connect requests a stopped listener handed to a reactor still sit on
    // the listener's CM channel until that reactor migrates them: let every
    // reactor run what was posted before the channel goes.
    if (reactors_ready_) env_.reactors().run_on_all([](runtime::Reactor&) {});
}

plugin::DiscoveryAddress RdmaTransport::discovery_address(const plugin::PortConfig& port) const {
    namespace tsas = proto::rdma_tsas;
    plugin::DiscoveryAddress a;
    a.trtype = proto::TransportType::Rdma;
    a.adrfam = port.family == "ipv6" ? proto::AddressFamily::Ipv6 : proto::AddressFamily::Ipv4;
    a.treq = proto::treq::kSecureChannelNotRequired | proto::treq::kDisableSqFlowControl;
    a.traddr = port.address;
    a.trsvcid = port.service;
    // What the kernel's nvmet and SPDK report: connected QPs, provider not
    // specified, the RDMA CM.
    a.tsas[tsas::kQptypeOffset] = tsas::kQptypeConnected;
    a.tsas[tsas::kPrtypeOffset] = tsas::kPrtypeNotSpecified;
    a.tsas[tsas::kCmsOffset] = tsas::kCmsRdmaCm;
    return a;
}

namespace {

std::unique_ptr<plugin::Transport> create(plugin::TransportEnv& env, const plugin::Params& params) {
    auto opts = parse_rdma_options(params);
    if (!opts) {
        log::error("rdma transport: {}", opts.error().describe());
        return nullptr;
    }
    return std::make_unique<RdmaTransport>(env, *opts);
}

}  // namespace
}  // namespace nvmfd::plugins::rdma

NVMFD_PLUGIN((nvmfd::plugin::PluginDescriptor{nvmfd::plugin::PluginKind::Transport, "rdma",
                                              "NVMe/RDMA (RoCE v2, InfiniBand, iWARP through rdma-core)",
                                              nvmfd::plugins::rdma::create, nullptr}))
