// The live target: the reactors, the published model snapshot each reactor
// reads, the controllers, and the transport-facing entry point that gives
// every new connection its core-side queue pair.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/plugin/transport.hpp"
#include "core/runtime/reactor.hpp"
#include "core/target/admission.hpp"
#include "core/target/auth_workers.hpp"
#include "core/target/controller_registry.hpp"
#include "core/target/snapshot.hpp"

namespace nvmfd::target {

struct TargetOptions {
    uint32_t max_queue_size = 1024;      // entries per queue (CAP.MQES + 1)
    uint16_t max_io_queues = 64;         // per controller
    uint32_t discovery_kato_ms = 120000; // when the host asks for none
    uint32_t max_kato_ms = 3600000;
    // Bounds on what hosts may make the target hold (docs/limits.md).
    uint32_t max_discovery_queue_size = 128;  // entries of a discovery controller's queue
    ControllerLimits controller_limits;
    plugin::ConnectionLimits connection_limits;  // given to the transports
    // How long a parked Connect waits for an admission hook's answer before
    // the static decision (the allow-list's) stands (docs/limits.md).
    std::chrono::milliseconds admission_timeout{5000};
    std::string firmware_revision = "0.1.0";
    std::string default_model = "nvmfd";
};

class Target final : public plugin::TransportEnv {
public:
    Target(runtime::ReactorGroup& reactors, TargetOptions options);
    ~Target();

    const TargetOptions& options() const { return options_; }
    ControllerRegistry& controllers() { return controllers_; }

    // --- control thread ---
    // Make `snap` current on every reactor; returns once all have adopted it.
    void publish(std::shared_ptr<const TargetSnapshot> snap);
    std::shared_ptr<const TargetSnapshot> snapshot() const { return master_; }
    // Wait until no reactor has a command in flight on `ns` (after it was
    // unpublished). Returns false on timeout.
    bool drain(Namespace& ns, std::chrono::milliseconds timeout);
    // Returns once every reactor has passed a point after the call (what the
    // caller wrote before is then seen by any code they run next); nothing
    // to wait for before they run.
    void sync_reactors();
    // Tell every controller of the subsystem that namespaces changed.
    void notify_namespaces_changed(const std::string& subnqn, const std::vector<uint32_t>& nsids);
    void notify_ana_changed(const std::vector<std::string>& subnqns);
    // A device of subsystem `subnqn` raised SMART critical warnings.
    void notify_critical_warning(const std::string& subnqn, uint8_t raised);
    void notify_discovery_changed();
    // Close every association of a subsystem (forced removal).
    void disconnect_subsystem(const std::string& subnqn, const std::string& reason);
    void disconnect_port(uint16_t port_id, const std::string& reason);

    // --- reactor threads ---
    const TargetSnapshot& current(unsigned reactor) const { return *slots_[reactor].snapshot; }

    // plugin::TransportEnv
    runtime::ReactorGroup& reactors() override { return reactors_; }
    std::unique_ptr<plugin::QueueHandler> create_queue(plugin::TransportQueue& queue, uint16_t port_id,
                                                       const plugin::TransportLimits& limits) override;
    void port_state_changed(uint16_t port_id, bool accepting, std::string_view reason) override {
        std::lock_guard lock(observer_mutex_);
        if (port_observer_) port_observer_(port_id, accepting, std::string(reason));
    }
    std::optional<plugin::TlsPsk> tls_psk(runtime::Reactor& reactor, uint16_t port_id,
                                          std::string_view identity) override;
    plugin::ConnectionLimits connection_limits() const override { return options_.connection_limits; }
    // Told when a port stops or resumes taking hosts (reactor threads).
    using PortObserver = std::function<void(uint16_t port_id, bool accepting, const std::string& reason)>;
    void set_port_observer(PortObserver o) {
        std::lock_guard lock(observer_mutex_);
        port_observer_ = std::move(o);
    }

    // Told when an association starts (connected = true) or ends; called on
    // reactor threads, so the observer must hand the news to its own thread.
    using ControllerObserver = std::function<void(const ControllerInfo& info, bool connected)>;
    void set_controller_observer(ControllerObserver o) {
        std::lock_guard lock(observer_mutex_);
        controller_observer_ = std::move(o);
    }
    void controller_changed(const ControllerInfo& info, bool connected) {
        std::lock_guard lock(observer_mutex_);
        if (controller_observer_) controller_observer_(info, connected);
    }

    // Told of every refused admin-queue Connect; called on reactor threads.
    using RefusalObserver = std::function<void(const ConnectRefusal&)>;
    void set_refusal_observer(RefusalObserver o) {
        std::lock_guard lock(observer_mutex_);
        refusal_observer_ = std::move(o);
    }
    void connect_refused(const ConnectRefusal& r) {
        std::lock_guard lock(observer_mutex_);
        if (refusal_observer_) refusal_observer_(r);
    }

    // Where DH-HMAC-CHAP transactions run (exec_auth.cpp), one thread per reactor.
    AuthWorkers& auth_workers() { return auth_workers_; }

    // The admission hook (any thread). Without one, Connect never waits.
    void set_admission_hook(std::shared_ptr<AdmissionHook> hook);
    // Reactor threads: the hook to ask, or null (one atomic load when none).
    std::shared_ptr<AdmissionHook> admission_hook() const;

    // Reactors running? Before start, publish() installs snapshots directly.
    void set_reactors_running(bool running) { reactors_running_ = running; }

private:
    struct alignas(64) Slot {
        std::shared_ptr<const TargetSnapshot> snapshot;
    };
    runtime::ReactorGroup& reactors_;
    const TargetOptions options_;
    ControllerRegistry controllers_;
    std::shared_ptr<const TargetSnapshot> master_;
    std::vector<Slot> slots_;
    bool reactors_running_ = false;
    std::mutex observer_mutex_;
    ControllerObserver controller_observer_;
    PortObserver port_observer_;
    RefusalObserver refusal_observer_;
    mutable std::mutex admission_mutex_;
    std::shared_ptr<AdmissionHook> admission_hook_;
    std::atomic<bool> has_admission_hook_{false};
    AuthWorkers auth_workers_;  // last: joined before anything its jobs touch goes
};

}  // namespace nvmfd::target
