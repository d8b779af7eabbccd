#include "plugins/transport_rdma/rdma_transport.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <netdb.h>
#include <rdma/rdma_cma.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <utility>

#include "core/plugin/abi.hpp"
#include "core/runtime/log.hpp"
#include "plugins/transport_rdma/rdma_device_events.hpp"
#include "plugins/transport_rdma/rdma_listener.hpp"
#include "plugins/transport_rdma/rdma_reactor.hpp"

namespace nvmfd::plugins::rdma {
namespace {

// librdmacm (rdma-core 44) closes a removed device when it next reads the
// device list, except when that list is empty: the last device to go stays
// open for good, and a provider that cannot take its resources back from a
// process (rxe, siw) keeps the kernel's removal waiting on that open file.
// Once nothing of nvmfd uses the context, its two files are swapped for
// /dev/null in place: the descriptors stay valid for librdmacm to close
// later (it does when a new device appears), the device file is let go now.
void drop_device_files(ibv_context* ctx, const std::string& name) {
    int null_fd = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null_fd < 0) {
        log::warn("rdma: cannot let go of {}: /dev/null: {}", name, std::strerror(errno));
        return;
    }
    for (int fd : {ctx->cmd_fd, ctx->async_fd})
        if (fd >= 0 && ::dup3(null_fd, fd, O_CLOEXEC) < 0)
            log::warn("rdma: cannot let go of {}: dup3: {}", name, std::strerror(errno));
    ::close(null_fd);
}

}  // namespace

RdmaTransport::RdmaTransport(plugin::TransportEnv& env, RdmaOptions options)
    : env_(env), options_(options), pending_(env.connection_limits().max_pending_per_address) {}

RdmaTransport::~RdmaTransport() {
    stop_listening();
    close_queues(-1);
    if (!reactors_ready_) return;
    // Device watchers, lanes and channels go on their own threads, before
    // the plugin's code does.
    runtime::Reactor& r0 = env_.reactors().at(0);
    r0.run_and_wait([this, &r0] {
        if (close_timer_) r0.cancel_timer(std::exchange(close_timer_, 0));
        watched_.clear();
    });
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

void RdmaTransport::memory_lent(std::span<const std::byte> range) {
    {
        std::lock_guard lock(lent_mutex_);
        lent_.push_back(range);
    }
    // Lanes made from now on register it when they are made; these the
    // existing ones (a lane made meanwhile is told twice and ignores it).
    if (reactors_ready_)
        env_.reactors().post_to_all([range](runtime::Reactor& r) {
            if (auto* rr = RdmaReactor::of(r)) rr->lend(range);
        });
}

void RdmaTransport::memory_withdrawn(std::span<const std::byte> range) {
    {
        std::lock_guard lock(lent_mutex_);
        std::erase_if(lent_, [&](auto r) { return r.data() == range.data(); });
    }
    // Waits: the memory goes when this returns. Every command that used it
    // was released (the core's promise), so no work request refers to it.
    if (reactors_ready_)
        env_.reactors().run_on_all([range](runtime::Reactor& r) {
            if (auto* rr = RdmaReactor::of(r)) rr->withdraw(range);
        });
}

std::vector<std::span<const std::byte>> RdmaTransport::lent_ranges() const {
    std::lock_guard lock(lent_mutex_);
    return lent_;
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

void RdmaTransport::device_removed(ibv_context* device) {
    if (!reactors_ready_) return;
    {
        std::lock_guard lock(removals_mutex_);
        if (!removals_.emplace(device, env_.reactors().size()).second) return;  // already on its way
    }
    log::warn("rdma: RDMA device {} is being removed: closing its queues", ::ibv_get_device_name(device->device));
    // Posted: the caller may be a reactor, which must not wait for another.
    env_.reactors().post_to_all([this, device](runtime::Reactor& r) {
        if (auto* rr = RdmaReactor::of(r)) rr->retire_device(device);
        else device_released(device);
    });
}

void RdmaTransport::device_released(ibv_context* device) {
    std::string name = ::ibv_get_device_name(device->device);
    {
        std::lock_guard lock(removals_mutex_);
        auto it = removals_.find(device);
        if (it == removals_.end() || --it->second > 0) return;
        removals_.erase(it);
    }
    log::notice("rdma: RDMA device {} released by every reactor", name);
    runtime::Reactor& r0 = env_.reactors().at(0);
    r0.post([this, device, name] {
        watched_.erase(device);
        unclosed_.emplace(device, name);
        close_attempts_ = 0;
        close_released_devices();
    });
}

void RdmaTransport::watch_device(ibv_context* device) {
    runtime::Reactor& r0 = env_.reactors().at(0);
    r0.post([this, &r0, device] {
        if (!watched_.count(device)) watched_.emplace(device, std::make_unique<RdmaDeviceEvents>(*this, r0, device));
    });
}

void RdmaTransport::queue_pair_event(ibv_qp* qp, QueuePairEvent event, const char* what) {
    // The queue pair outlives this call (its event is not acknowledged
    // yet); afterwards only its number and address are compared.
    uint32_t qp_num = qp->qp_num;
    env_.reactors().post_to_all([qp, qp_num, event, reason = std::string(what)](runtime::Reactor& r) {
        if (auto* rr = RdmaReactor::of(r)) rr->queue_pair_event(qp, qp_num, event, reason);
    });
}

void RdmaTransport::close_released_devices() {
    // librdmacm keeps a device it opened for later ids until it sees the
    // device gone from the device list, and only looks when asked for the
    // list: ask. Until the kernel has taken the device off the list (it may
    // still be removing other users first), ask again.
    int count = 0;
    ibv_context** list = ::rdma_get_devices(&count);
    if (!list) {
        // No RDMA device left: librdmacm did not look (see drop_device_files).
        for (auto& [device, name] : unclosed_) {
            drop_device_files(device, name);
            log::notice("rdma: RDMA device {} was the last one: nvmfd closed librdmacm's handle of it", name);
        }
        unclosed_.clear();
        return;
    }
    for (auto it = unclosed_.begin(); it != unclosed_.end();) {
        bool listed = false;
        for (int i = 0; i < count; ++i) listed |= list[i] == it->first;
        if (listed) {
            ++it;
            continue;
        }
        log::notice("rdma: RDMA device {} is off librdmacm's list: nvmfd holds nothing of it", it->second);
        it = unclosed_.erase(it);
    }
    ::rdma_free_devices(list);
    if (unclosed_.empty() || close_timer_) return;
    if (++close_attempts_ == 120) {
        for (auto& [device, name] : unclosed_)
            log::warn("rdma: librdmacm still lists the removed RDMA device {} after 60 s; not asking again", name);
        unclosed_.clear();
        return;
    }
    close_timer_ = env_.reactors().at(0).add_timer(std::chrono::milliseconds(500), [this] {
        close_timer_ = 0;
        close_released_devices();
    });
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
    auto fail = [&](Error e) -> Result<void> {
        ::rdma_destroy_event_channel(channel);
        return nvmfd::unexpected(std::move(e));
    };
    int flags = ::fcntl(channel->fd, F_GETFL);
    if (flags < 0 || ::fcntl(channel->fd, F_SETFL, flags | O_NONBLOCK) != 0 ||
        ::fcntl(channel->fd, F_SETFD, FD_CLOEXEC) != 0)
        return fail(Error{ErrorCode::Io, fmt::format("RDMA CM channel: {}", std::strerror(errno)), {}});
    auto listening = listen_on(channel, address->ai_addr, port.address, port.service, options_.listen_backlog);
    if (!listening) return fail(listening.error());
    rdma_cm_id* id = *listening;

    auto listener = std::make_unique<RdmaListener>(*this, env_.reactors().at(0), channel, id, port, address->ai_addr);
    RdmaListener* l = listener.get();
    {
        std::lock_guard lock(listeners_mutex_);
        if (auto ready = prepare_reactors(); !ready) return ready;
        if (listeners_.count(port.id))
            return make_error(ErrorCode::AlreadyExists, fmt::format("port {} is already listening", port.id), "id");
        listeners_[port.id] = std::move(listener);
    }
    l->reactor().run_and_wait([l] { l->start(); });
    log::info("rdma: listening on {} (port {}, device {})", endpoint(port.address, port.service), port.id,
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
    // NVMe/RDMA has no secure channel to require or not: "not specified", as
    // the kernel's nvmet-rdma says (nvme-cli 2.3 cannot print "not required"
    // with the SQ flow control bit, and showed "unrecognized").
    a.treq = proto::treq::kSecureChannelNotSpecified | proto::treq::kDisableSqFlowControl;
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
