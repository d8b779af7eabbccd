// The control API: construction, plugin and snapshot plumbing, queries.
#include "core/control/control.hpp"

#include <algorithm>

#include "core/control/control_helpers.hpp"
#include "core/control/kernel_export.hpp"
#include "core/control/host_auth_rules.hpp"
#include "core/control/secrets_file.hpp"
#include "core/control/config_document.hpp"
#include "core/control/state_json.hpp"
#include "core/runtime/log.hpp"

namespace nvmfd::control {

using namespace detail;
using target::Namespace;

Control::Control(target::Target& target, plugin::PluginLoader& plugins, ControlOptions options)
    : target_(target), plugins_(plugins), options_(std::move(options)) {
    if (options_.state_file) store_.emplace(*options_.state_file);
    ana_group_changes_[1] = 0;
    target_.set_controller_observer([this](const target::ControllerInfo& info, bool connected) {
        Event e = make_event(connected ? EventKind::ControllerConnected : EventKind::ControllerDisconnected,
                             info.identity.subnqn, 0, info.identity.port_id, 0, info.identity.hostnqn);
        e.cntlid = info.identity.cntlid;
        if (!connected) e.reason = info.end_reason;
        emit_from_reactor(e);
    });
    target_.set_port_observer([this](uint16_t port, bool accepting, const std::string& reason) {
        Event e = make_event(EventKind::PortChanged, {}, 0, port, 0, accepting ? "up" : "down");
        e.reason = reason;
        emit_from_reactor(e);
    });
    target_.set_refusal_observer([this](const target::ConnectRefusal& r) {
        Event e = make_event(EventKind::HostRefused, r.subsystem, 0, r.port, 0, r.host);
        e.address = r.address;
        e.reason = r.reason;
        emit_from_reactor(e);
    });
}

Control::~Control() {
    shutdown();
    target_.set_controller_observer(nullptr);
    target_.set_refusal_observer(nullptr);
    target_.set_admission_hook(nullptr);
    // Everything a plugin created goes now, while its code is still loaded:
    // unpublish the namespaces, let in-flight I/O drain, then drop them.
    std::lock_guard lock(mutex_);
    spec_ = ExportSpec{};
    target_.publish(build_snapshot(true));
    std::vector<NsKey> keys;
    for (auto& [k, v] : live_) keys.push_back(k);
    for (auto& k : keys) drop_namespace(k);
    transports_.clear();
    backends_.clear();
    // kernel_: the kernel keeps serving its part after nvmfd is gone.
    kernel_.reset();
}

void Control::set_executor(std::function<void(std::function<void()>)> post) {
    std::lock_guard lock(executor_mutex_);
    executor_ = std::move(post);
}

bool Control::post_to_control(std::function<void()> fn) {
    std::function<void(std::function<void()>)> post;
    {
        std::lock_guard lock(executor_mutex_);
        post = executor_;
    }
    if (!post) return false;
    post(std::move(fn));
    return true;
}

void Control::emit_from_reactor(const Event& e) {
    // Never take mutex_ here: the control thread may hold it while it
    // waits for this reactor (publish, drain).
    if (!post_to_control([this, e] {
            std::lock_guard lock(mutex_);
            emit(e);
        }))
        emit(e);
}

void Control::shutdown() {
    std::lock_guard lock(mutex_);
    for (auto& [name, t] : transports_) t->stop_listening();
    for (uint16_t id : live_ports_)
        for (auto& [name, t] : transports_) t->remove_port(id);
    live_ports_.clear();
}

void Control::add_listener(EventListener l) {
    std::lock_guard lock(mutex_);
    listeners_.push_back(std::move(l));
}

void Control::emit(const Event& e) {
    for (auto& l : listeners_) l(e);
}

// ------------------------------------------------------------- plumbing

Result<plugin::Transport*> Control::transport(const std::string& name) {
    if (auto it = transports_.find(name); it != transports_.end()) return it->second.get();
    auto loaded = plugins_.load(plugin::PluginKind::Transport, name);
    if (!loaded) return nvmfd::unexpected(Error{loaded.error().code, loaded.error().message, "transport"});
    plugin::Params params;
    if (auto it = options_.transport_params.find(name); it != options_.transport_params.end()) params = it->second;
    auto t = (*loaded)->descriptor->create_transport(target_, params);
    if (!t)
        return make_error(ErrorCode::PluginError,
                          fmt::format("transport '{}' refused its settings (see the log)", name), "transport");
    auto* raw = t.get();
    transports_[name] = std::move(t);
    lent_memory_.transport_added(*raw);
    return raw;
}

Result<plugin::Backend*> Control::backend(const std::string& name) {
    if (auto it = backends_.find(name); it != backends_.end()) return it->second.get();
    auto loaded = plugins_.load(plugin::PluginKind::Backend, name);
    if (!loaded) return nvmfd::unexpected(Error{loaded.error().code, loaded.error().message, "backend"});
    auto b = (*loaded)->descriptor->create_backend({});
    if (!b) return make_error(ErrorCode::PluginError, fmt::format("backend '{}' failed to start", name), "backend");
    auto* raw = b.get();
    backends_[name] = std::move(b);
    return raw;
}

Result<void> Control::write_state(const ExportSpec& spec) {
    if (!store_) return {};
    // Secrets first: see secrets_file.hpp for why this order.
    auto secrets = secrets_path_for(store_->path());
    std::error_code ec;
    if (has_secrets(spec) || std::filesystem::exists(secrets, ec)) {
        if (auto dir = secrets.parent_path(); !dir.empty() && !std::filesystem::exists(dir, ec)) {
            std::filesystem::create_directories(dir, ec);
            std::filesystem::permissions(dir, std::filesystem::perms::owner_all, ec);
        }
        auto w = StateStore::write_atomically(secrets, secrets_to_json(spec).dump(2) + "\n");
        if (!w) return make_error(ErrorCode::Io, fmt::format("the change was not made: {}", w.error().message));
    }
    auto r = store_->write(to_json(spec).dump(2) + "\n");
    if (!r)
        return make_error(ErrorCode::Io, fmt::format("the change was not made: {}", r.error().message));
    return {};
}

std::shared_ptr<const target::TargetSnapshot> Control::build_snapshot(bool discovery_changed) {
    auto snap = std::make_shared<target::TargetSnapshot>();
    snap->generation = ++generation_;
    if (discovery_changed) ++discovery_generation_;
    snap->discovery_generation = discovery_generation_;
    snap->ana_change_count = ana_change_count_;
    for (uint32_t g : spec_.ana_groups) snap->ana_groups.push_back(target::AnaGroup{g, ana_group_changes_[g]});
    for (const auto& s : spec_.subsystems) {
        if (s.data_path == DataPath::Kernel) continue;  // the kernel serves it
        auto sub = std::make_shared<target::Subsystem>();
        sub->nqn = s.nqn;
        sub->serial = s.serial;
        sub->model = s.model;
        sub->allow_any_host = s.allow_any_host;
        sub->hosts = s.hosts;
        std::sort(sub->hosts.begin(), sub->hosts.end());
        for (const auto& [host, a] : s.host_auth) sub->host_auth[host] = detail::data_path_auth(a);
        sub->max_namespaces = s.max_namespaces;
        sub->min_cntlid = s.min_cntlid;
        sub->max_cntlid = s.max_cntlid;
        for (const auto& ns : s.namespaces) {
            auto it = live_.find({s.nqn, ns.nsid});
            if (it == live_.end()) continue;  // offline
            sub->namespaces.push_back(target::NamespaceEntry{it->second.ns, ns.ana_group, ns.visible_to});
        }
        snap->subsystems.push_back(std::move(sub));
    }
    for (const auto& p : spec_.ports) {
        // The kernel serves it, or its transport could not be loaded.
        if (p.data_path == DataPath::Kernel || !discovery_addresses_.count(p.id)) continue;
        auto port = std::make_shared<target::Port>();
        port->config = detail::port_config(p);
        port->discovery = discovery_addresses_[p.id];
        port->subsystems = p.subsystems;
        port->ana_states = p.ana_states;
        snap->ports.push_back(std::move(port));
    }
    return snap;
}

void Control::publish(bool discovery_changed) {
    target_.publish(build_snapshot(discovery_changed));
    if (discovery_changed) target_.notify_discovery_changed();
}

void Control::drop_namespace(const NsKey& key) {
    auto it = live_.find(key);
    if (it == live_.end()) return;
    // Unpublished already; wait for commands still running on it.
    if (!target_.drain(*it->second.ns, kDrainTimeout))
        log::warn("{}: commands still in flight after {} s; closing anyway", ns_label(key.first, key.second),
                  std::chrono::duration_cast<std::chrono::seconds>(kDrainTimeout).count());
    lent_memory_.device_closing(it->second.ns->device());
    live_.erase(it);
}

SubsystemSpec* Control::find_subsystem(const std::string& nqn) {
    for (auto& s : spec_.subsystems)
        if (s.nqn == nqn) return &s;
    return nullptr;
}

PortSpec* Control::find_port(uint16_t id) {
    for (auto& p : spec_.ports)
        if (p.id == id) return &p;
    return nullptr;
}

Result<SubsystemSpec*> Control::need_subsystem(const std::string& nqn) {
    if (auto* s = find_subsystem(nqn)) return s;
    return make_error(ErrorCode::NotFound, fmt::format("no subsystem '{}'", nqn), "nqn");
}

Result<PortSpec*> Control::need_port(uint16_t id) {
    if (auto* p = find_port(id)) return p;
    return make_error(ErrorCode::NotFound, fmt::format("no port {}", id), "port");
}

std::vector<std::string> Control::subsystems_on_port(const PortSpec& p) const { return p.subsystems; }

// ------------------------------------------------------------- controllers

Result<void> Control::disconnect_controller(const std::string& nqn, uint16_t cntlid) {
    auto c = target_.controllers().find(nqn, cntlid);
    if (!c) return make_error(ErrorCode::NotFound, fmt::format("'{}' has no controller {}", nqn, cntlid), "cntlid");
    log::info("controller {} of {} (host {}) disconnected by the administrator", cntlid, nqn, c->identity().hostnqn);
    c->shut_down("disconnected by the administrator");
    return {};
}

// ------------------------------------------------------------- queries

ExportSpec Control::export_spec() const {
    std::lock_guard lock(mutex_);
    return spec_;
}

std::vector<target::ControllerInfo> Control::controllers() const {
    std::vector<target::ControllerInfo> out;
    for (auto& c : target_.controllers().all()) out.push_back(c->info());
    return out;
}

Result<target::NamespaceStats> Control::namespace_stats(const std::string& nqn, uint32_t nsid) const {
    std::lock_guard lock(mutex_);
    auto it = live_.find({nqn, nsid});
    if (it == live_.end())
        return make_error(ErrorCode::NotFound, fmt::format("'{}' has no namespace {} online", nqn, nsid), "nsid");
    return it->second.ns->stats();
}

Result<uint64_t> Control::namespace_size(const std::string& nqn, uint32_t nsid) const {
    std::lock_guard lock(mutex_);
    for (const auto& s : spec_.subsystems)
        if (s.nqn == nqn && s.data_path == DataPath::Kernel)
            for (const auto& ns : s.namespaces)
                if (ns.nsid == nsid) return kernel_device_size(ns.params);
    auto it = live_.find({nqn, nsid});
    if (it == live_.end())
        return make_error(ErrorCode::NotFound, fmt::format("'{}' has no namespace {} online", nqn, nsid), "nsid");
    return it->second.ns->size_bytes();
}

std::vector<OfflineItem> Control::offline() const {
    std::lock_guard lock(mutex_);
    std::vector<OfflineItem> out;
    for (auto& [k, v] : offline_) out.push_back(v);
    return out;
}

std::string Control::state_json() const {
    std::lock_guard lock(mutex_);
    return to_json(spec_).dump(2) + "\n";
}

std::string Control::state_json_with_secrets() const {
    std::lock_guard lock(mutex_);
    return config_with_secrets(spec_).dump(2) + "\n";
}

}  // namespace nvmfd::control
