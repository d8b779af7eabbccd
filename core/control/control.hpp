// The one control API. The D-Bus service, Lua policies and the config file
// all change the target through these functions, so they share validation,
// errors and persistence. Every successful change is written to the state
// file before it is published to the reactors and before the call returns.
//
// The plugin loader must outlive the Control (plugin code must stay mapped
// while the objects it made are destroyed).
//
// Calls are serialized by a mutex; they may block briefly while reactors
// adopt a new snapshot or drain I/O from a removed namespace.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/control/events.hpp"
#include "core/control/lent_memory.hpp"
#include "core/control/export_spec.hpp"
#include "core/control/state_store.hpp"
#include "core/plugin/kernel_target.hpp"
#include "core/plugin/loader.hpp"
#include "core/target/target.hpp"

namespace nvmfd::control {

struct SubsystemSettings {
    std::optional<DataPath> data_path{};  // add only: fixed once made
    std::optional<std::string> passthru_device{};  // kernel only; "" removes it
    std::optional<std::string> serial;
    std::optional<std::string> model;
    std::optional<bool> allow_any_host;
    std::optional<uint32_t> max_namespaces;
    std::optional<uint16_t> min_cntlid;
    std::optional<uint16_t> max_cntlid;
};

// A change to a host's authentication settings: each field left nullopt is
// kept; an empty secret removes it, an empty list allows every choice.
struct HostKeyUpdate {
    std::optional<std::string> dhchap_secret;
    std::optional<std::string> dhchap_ctrl_secret;
    std::optional<std::string> tls_psk;
    std::optional<std::vector<std::string>> dhchap_digests;
    std::optional<std::vector<std::string>> dhchap_groups;
    bool empty() const {
        return !dhchap_secret && !dhchap_ctrl_secret && !tls_psk && !dhchap_digests && !dhchap_groups;
    }
};

// What may be shown of a host's authentication settings: whether each
// secret is set, never the secret.
struct HostKeyInfo {
    bool dhchap_secret = false;
    bool dhchap_ctrl_secret = false;
    bool tls_psk = false;
    bool missing = false;  // named by the state file but absent from the secrets file
    std::vector<std::string> dhchap_digests;
    std::vector<std::string> dhchap_groups;
};

struct NamespaceSettings {
    uint32_t nsid = 0;  // 0: the lowest free NSID
    std::string backend;
    plugin::Params params;
    uint32_t ana_group = 1;
    std::vector<std::string> visible_to;
    std::string uuid;   // empty: generate
    std::string nguid;  // empty: generate
};

struct PortSettings {
    uint16_t id = 0;  // 0: the lowest free id
    DataPath data_path = DataPath::Nvmfd;
    std::string transport = "tcp";
    std::string family = "ipv4";
    std::string address;
    std::string service = "4420";
    plugin::Params params;
    plugin::SecureChannel secure_channel = plugin::SecureChannel::None;
};

// Something in the state that is configured but not serving (e.g. a missing
// backing file at start); kept so that fixing the cause and restarting, or
// removing it, is the admin's choice.
struct OfflineItem {
    std::string what;  // "namespace nqn...:1", "port 2"
    std::string reason;
    std::string subsystem;  // which item, for APIs that show it on its object:
    uint32_t nsid = 0;      //   a namespace (subsystem, nsid) or
    uint16_t port = 0;      //   a port
};

// Admission questions and answers (see set_admission), as the core defines them.
using AdmissionQuery = target::AdmissionQuery;
using AdmissionVerdict = target::AdmissionVerdict;

struct ControlOptions {
    std::optional<std::filesystem::path> state_file;  // none: nothing is persisted
    std::map<std::string, plugin::Params> transport_params;  // per transport name
    // A dry run (ScratchControl): every call validates and updates the
    // spec as usual, but namespaces are only checked by their backend
    // (Backend::check), never opened, and ports never listen; the
    // namespaces are then absent from the snapshots.
    bool dry_run = false;
    plugin::Params kernel_params{};  // the kernel target plugin's ([kernel.nvmet] in nvmfd.conf)
    // Tests: the kernel target on a fake configfs tree instead of the plugin's.
    std::function<Result<std::unique_ptr<plugin::KernelTarget>>()> kernel_target_factory{};
};

class ScratchControl;

class Control {
public:
    Control(target::Target& target, plugin::PluginLoader& plugins, ControlOptions options);
    ~Control();

    // Startup: read the state file. Returns false (nothing to restore) when
    // the file does not exist; an error when it exists but cannot be used.
    Result<bool> load_state();
    // Apply a whole export spec on an empty target (startup, after load_state
    // or for the default export). Items that cannot be brought up go offline.
    Result<void> apply(const ExportSpec& spec) { return apply_export(spec, false); }
    // Replace the whole configuration (config restore): validated first;
    // on failure nothing changes.
    Result<void> restore(const ExportSpec& spec, bool force);
    // Startup order: ports that apply() brings up are published but do not
    // listen until release_listeners(), so that policies can set ANA states
    // (on_start) before any host connects. A port that cannot listen then
    // goes offline like at apply().
    void hold_listeners();
    void release_listeners();
    // Stop listening and close every connection (daemon shutdown).
    void shutdown();

    // Subsystems and hosts
    Result<void> add_subsystem(const std::string& nqn, const SubsystemSettings& settings);
    Result<void> set_subsystem(const std::string& nqn, const SubsystemSettings& settings);
    Result<void> remove_subsystem(const std::string& nqn, bool force);
    Result<void> allow_host(const std::string& nqn, const std::string& hostnqn, const HostKeyUpdate& keys = {});
    Result<void> disallow_host(const std::string& nqn, const std::string& hostnqn);
    // Keys apply to the next authentication; connected hosts stay unless
    // `disconnect` (then the host's controllers end and it reconnects with them).
    Result<void> set_host_keys(const std::string& nqn, const std::string& hostnqn, const HostKeyUpdate& keys,
                               bool disconnect = false);
    Result<HostKeyInfo> host_keys(const std::string& nqn, const std::string& hostnqn) const;

    // Namespaces
    Result<uint32_t> add_namespace(const std::string& nqn, const NamespaceSettings& settings);
    Result<void> remove_namespace(const std::string& nqn, uint32_t nsid);
    Result<void> resize_namespace(const std::string& nqn, uint32_t nsid, uint64_t new_size_bytes);
    Result<void> set_namespace_visibility(const std::string& nqn, uint32_t nsid, std::vector<std::string> hosts);
    Result<void> set_namespace_ana_group(const std::string& nqn, uint32_t nsid, uint32_t group);

    // Ports
    Result<uint16_t> add_port(const PortSettings& settings);
    Result<void> remove_port(uint16_t id, bool force);
    Result<void> link_subsystem(uint16_t port, const std::string& nqn);
    Result<void> unlink_subsystem(uint16_t port, const std::string& nqn, bool force);

    // ANA
    Result<void> add_ana_group(uint32_t group);
    Result<void> remove_ana_group(uint32_t group);
    Result<void> set_ana_state(uint16_t port, uint32_t group, proto::AnaState state);

    // Lua policies (only their persisted form: the policy engine compiles
    // and runs them, and calls these once it accepted one).
    Result<void> put_policy(const PolicySpec& policy);  // add or replace by name
    Result<void> remove_policy(const std::string& name);

    // Controllers: end a host's association now (the host may reconnect
    // if it is still allowed).
    Result<void> disconnect_controller(const std::string& nqn, uint16_t cntlid);

    // Queries
    ExportSpec export_spec() const;
    std::vector<target::ControllerInfo> controllers() const;
    Result<target::NamespaceStats> namespace_stats(const std::string& nqn, uint32_t nsid) const;
    Result<uint64_t> namespace_size(const std::string& nqn, uint32_t nsid) const;
    std::vector<OfflineItem> offline() const;
    // Kernel-served exports: where the kernel's configuration differs from
    // nvmfd's and nvmfd left it so (at start, what hosts would notice is
    // held back), one line each; empty when they agree.
    std::vector<std::string> kernel_drift();
    // Make the kernel's configuration equal to nvmfd's now, including what
    // was held back (hosts of the objects that differ may reconnect).
    Result<void> apply_kernel_drift();
    std::string state_json() const;
    // The same with every secret nvmfd holds (`config save --include-secrets`):
    // for the admin's backup only, never the state file or a D-Bus reply.
    std::string state_json_with_secrets() const;

    // Admission: `decide` runs on the control thread (through the executor
    // set before this call) for every admin Connect to an I/O subsystem that
    // passed the static checks, and may only refuse what they allowed.
    // Empty: no hook, Connect stays synchronous on the reactor. See
    // control_admission.cpp; the wait is bounded by the core.
    using AdmissionDecider = std::function<AdmissionVerdict(const AdmissionQuery&)>;
    void set_admission(AdmissionDecider decide);
    // A scratch copy of this configuration for dry runs (scratch_control.hpp):
    // the same validation, nothing persisted, opened or listened on.
    Result<std::unique_ptr<ScratchControl>> dry_run_copy() const;

    void add_listener(EventListener l);
    // How events raised on reactor threads (controller connect/disconnect)
    // reach the control thread; without one they are delivered in place.
    void set_executor(std::function<void(std::function<void()>)> post);

private:
    struct LiveNamespace {
        std::shared_ptr<target::Namespace> ns;
        uint8_t critical_warning = 0;  // its device's, as last handled (control_device_health.cpp)
    };
    using NsKey = std::pair<std::string, uint32_t>;

    // Make `next` durable: the kernel's configuration first (its refusal
    // leaves everything as it was), then the state file.
    Result<void> persist(const ExportSpec& next);
    Result<void> write_state(const ExportSpec& spec);
    // Bring up a whole configuration on an empty target; `admin_change`
    // (restore) may disturb hosts of kernel-served objects, the start may not.
    Result<void> apply_export(const ExportSpec& spec, bool admin_change);
    // The kernel's target (control_kernel.cpp).
    Result<plugin::KernelTarget*> kernel_target();
    Result<void> sync_kernel(const plugin::KernelExport& desired, const plugin::KernelScope& scope,
                             bool allow_disruptive);
    void refresh_kernel_drift();
    plugin::KernelScope recorded_kernel_scope() const;
    Result<void> record_kernel_scope(const plugin::KernelScope& scope);
    void forget_old_kernel_objects();
    Result<void> start_kernel_export(const ExportSpec& spec, bool admin_change);
    plugin::KernelScope kernel_objects_of_ours() const;
    Result<void> check_kernel_port(PortSpec& p, bool id_chosen_here);
    // An admin's change of the kernel's part: refuses to take over a port,
    // records the objects first, applies with `scope` disruptive, and on the
    // kernel's refusal writes the previous export back (sparing what it
    // adopted). Returns the adopted objects.
    Result<plugin::KernelScope> change_kernel(const plugin::KernelExport& desired, const plugin::KernelScope& scope);
    Result<void> load_secrets(ExportSpec& spec);
    void publish(bool discovery_changed);
    void emit(const Event& e);
    void emit_from_reactor(const Event& e);  // an event raised on a reactor thread
    // `fn` on the control thread, through the executor; false if there is
    // none (tests), and nothing ran.
    bool post_to_control(std::function<void()> fn);
    // Has the device tell the control thread when its health changes.
    void watch_device_health(const std::string& nqn, target::Namespace& ns);
    // On the control thread: the device of namespace (nqn, nsid) says its
    // health changed. Hosts hear of newly raised critical warnings (SMART
    // events); D-Bus and policies get NamespaceChanged "health".
    void device_health_changed(const NsKey& key, const plugin::BlockDevice* device);
    std::shared_ptr<const target::TargetSnapshot> build_snapshot(bool discovery_changed);

    Result<plugin::Transport*> transport(const std::string& name);
    Result<plugin::Backend*> backend(const std::string& name);
    Result<std::shared_ptr<target::Namespace>> open_namespace(const std::string& nqn, NamespaceSpec& spec);
    Result<void> validate_namespace(const SubsystemSpec& sub, const NamespaceSpec& ns,
                                    const std::vector<uint32_t>& ana_groups) const;
    // Sorted, defaults filled in, every reference checked; nothing is touched.
    Result<ExportSpec> normalize(const ExportSpec& spec) const;
    Result<void> prepare_port(const PortSpec& port);  // load its transport; it joins snapshots
    Result<void> start_port(const PortSpec& port);    // listen
    void drop_namespace(const NsKey& key);

    SubsystemSpec* find_subsystem(const std::string& nqn);
    PortSpec* find_port(uint16_t id);
    Result<SubsystemSpec*> need_subsystem(const std::string& nqn);
    Result<PortSpec*> need_port(uint16_t id);
    std::vector<std::string> subsystems_on_port(const PortSpec& p) const;

    target::Target& target_;
    plugin::PluginLoader& plugins_;
    const ControlOptions options_;
    std::optional<StateStore> store_;

    mutable std::recursive_mutex mutex_;
    ExportSpec spec_;
    std::map<NsKey, LiveNamespace> live_;
    std::set<uint16_t> live_ports_;
    bool hold_listeners_ = false;
    std::vector<uint16_t> held_ports_;  // prepared, waiting for release_listeners()
    std::map<std::string, OfflineItem> offline_;
    std::vector<std::string> kernel_drift_;  // see kernel_drift()
    std::unique_ptr<plugin::KernelTarget> kernel_;
    plugin::KernelExport kernel_wanted_;  // what the state file's kernel-served part asks for
    // <state>.kernel-scope.json as last read or written: only this process
    // writes it, so it is read from disk once.
    mutable std::optional<plugin::KernelScope> kernel_scope_record_;
    std::map<std::string, std::unique_ptr<plugin::Transport>> transports_;
    LentMemory lent_memory_{target_};
    std::map<std::string, std::unique_ptr<plugin::Backend>> backends_;
    std::map<uint16_t, plugin::DiscoveryAddress> discovery_addresses_;
    uint64_t generation_ = 0;
    uint64_t discovery_generation_ = 0;
    uint64_t ana_change_count_ = 0;
    std::map<uint32_t, uint64_t> ana_group_changes_;
    std::vector<EventListener> listeners_;
    std::mutex executor_mutex_;
    std::function<void(std::function<void()>)> executor_;
};

}  // namespace nvmfd::control
