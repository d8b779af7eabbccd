#include "core/target/target.hpp"

#include <future>
#include <thread>

#include "core/runtime/log.hpp"
#include "core/target/queue_pair.hpp"
#include "core/target/tls_keys.hpp"

namespace nvmfd::target {

Target::Target(runtime::ReactorGroup& reactors, TargetOptions options)
    : reactors_(reactors),
      options_(std::move(options)),
      controllers_(options_.controller_limits),
      slots_(reactors.size()),
      auth_workers_(reactors.size()) {
    master_ = std::make_shared<TargetSnapshot>();
    for (auto& s : slots_) s.snapshot = master_;
}

Target::~Target() = default;

void Target::publish(std::shared_ptr<const TargetSnapshot> snap) {
    master_ = snap;
    if (!reactors_running_) {
        for (auto& s : slots_) s.snapshot = snap;
        return;
    }
    // Each reactor swaps its own slot between commands; waiting for all of
    // them means a management call returns only once every path sees it.
    reactors_.run_on_all([this, &snap](runtime::Reactor& r) { slots_[r.id()].snapshot = snap; });
}

bool Target::drain(Namespace& ns, std::chrono::milliseconds timeout) {
    if (!reactors_running_) return true;
    auto deadline = runtime::Clock::now() + timeout;
    for (;;) {
        std::atomic<uint64_t> inflight{0};
        reactors_.run_on_all([&](runtime::Reactor& r) { inflight += ns.inflight(r.id()); });
        if (inflight == 0) return true;
        if (runtime::Clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
}

void Target::sync_reactors() {
    if (reactors_running_) reactors_.run_on_all([](runtime::Reactor&) {});
}

void Target::notify_namespaces_changed(const std::string& subnqn, const std::vector<uint32_t>& nsids) {
    for (auto& ctrl : controllers_.of_subsystem(subnqn)) {
        ctrl->admin_reactor().post([ctrl, nsids] {
            for (uint32_t id : nsids) ctrl->namespace_changed(id);
        });
    }
}

void Target::notify_ana_changed(const std::vector<std::string>& subnqns) {
    for (const auto& nqn : subnqns)
        for (auto& ctrl : controllers_.of_subsystem(nqn))
            ctrl->admin_reactor().post([ctrl] {
                ctrl->raise_event(proto::AsyncEventType::Notice, proto::AsyncNotice::AnaChange,
                                  proto::LogPageId::AsymmetricNamespaceAccess);
            });
}

void Target::notify_critical_warning(const std::string& subnqn, uint8_t raised) {
    for (auto& ctrl : controllers_.of_subsystem(subnqn))
        ctrl->admin_reactor().post([ctrl, raised] { ctrl->critical_warning_raised(raised); });
}

void Target::notify_discovery_changed() {
    for (auto& ctrl : controllers_.all())
        if (ctrl->is_discovery())
            ctrl->admin_reactor().post([ctrl] {
                ctrl->raise_event(proto::AsyncEventType::Notice, proto::AsyncNotice::DiscoveryLogChange,
                                  proto::LogPageId::Discovery);
            });
}

void Target::disconnect_subsystem(const std::string& subnqn, const std::string& reason) {
    for (auto& ctrl : controllers_.of_subsystem(subnqn)) ctrl->shut_down(reason);
}

void Target::disconnect_port(uint16_t port_id, const std::string& reason) {
    for (auto& ctrl : controllers_.all())
        if (ctrl->identity().port_id == port_id) ctrl->shut_down(reason);
}

void Target::set_admission_hook(std::shared_ptr<AdmissionHook> hook) {
    std::lock_guard lock(admission_mutex_);
    admission_hook_ = std::move(hook);
    has_admission_hook_.store(admission_hook_ != nullptr, std::memory_order_release);
}

std::shared_ptr<AdmissionHook> Target::admission_hook() const {
    if (!has_admission_hook_.load(std::memory_order_acquire)) return nullptr;
    std::lock_guard lock(admission_mutex_);
    return admission_hook_;
}

std::optional<plugin::TlsPsk> Target::tls_psk(runtime::Reactor& reactor, uint16_t port_id, std::string_view identity) {
    auto psk = find_tls_psk(current(reactor.id()), port_id, identity);
    if (!psk) {
        // The identity travels in clear text; the reason never holds key material.
        log::notice("tls: port {}: PSK identity '{}' refused: {}", port_id, identity, psk.error().message);
        return std::nullopt;
    }
    return std::move(*psk);
}

std::unique_ptr<plugin::QueueHandler> Target::create_queue(plugin::TransportQueue& queue, uint16_t port_id,
                                                           const plugin::TransportLimits& limits) {
    return std::make_unique<QueuePair>(*this, queue, port_id, limits);
}

}  // namespace nvmfd::target
