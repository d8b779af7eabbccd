#include "core/control/control.hpp"

#include <algorithm>
#include <charconv>
#include <openssl/rand.h>

#include "core/control/state_json.hpp"
#include "core/proto/fabrics.hpp"
#include "core/runtime/log.hpp"
#include "core/target/ana.hpp"
#include "core/target/identifiers.hpp"
#include "core/target/nqn.hpp"

namespace nvmfd::control {

using target::Namespace;

namespace {

constexpr uint32_t kMaxNamespacesLimit = 4096;
constexpr auto kDrainTimeout = std::chrono::seconds(30);

std::unexpected<Error> invalid(std::string msg, std::string field) {
    return make_error(ErrorCode::InvalidArgument, std::move(msg), std::move(field));
}

Result<void> check_nqn(const std::string& nqn, const std::string& field) {
    if (auto problem = target::nqn_problem(nqn)) return invalid(fmt::format("'{}': {}", nqn, *problem), field);
    return {};
}

Result<void> check_printable(const std::string& s, size_t max, const std::string& field) {
    if (s.empty()) return invalid("must not be empty", field);
    if (s.size() > max) return invalid(fmt::format("must be at most {} characters", max), field);
    for (unsigned char c : s)
        if (c < 0x20 || c > 0x7e) return invalid("must be printable ASCII", field);
    return {};
}

// The parser quotes the bytes it stopped at; from a garbage file those are
// binary, which would turn the whole message into a blob in the journal.
std::string printable(std::string_view s) {
    std::string out;
    for (unsigned char c : s) out += (c >= 0x20 && c < 0x7f) ? char(c) : '?';
    return out;
}

std::string random_serial() {
    uint8_t b[8];
    RAND_bytes(b, sizeof b);
    std::string s;
    for (uint8_t x : b) s += fmt::format("{:02x}", x);
    return s;
}

template <typename T, typename Key>
void insert_sorted(std::vector<T>& v, T item, Key key) {
    auto it = std::lower_bound(v.begin(), v.end(), item, [&](const T& a, const T& b) { return key(a) < key(b); });
    v.insert(it, std::move(item));
}

void insert_sorted_string(std::vector<std::string>& v, const std::string& s) {
    v.insert(std::lower_bound(v.begin(), v.end(), s), s);
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

Event make_event(EventKind kind, std::string subsystem = {}, uint32_t nsid = 0, uint16_t port = 0,
                 uint32_t group = 0, std::string detail = {}) {
    return Event{kind, std::move(subsystem), nsid, port, group, 0, std::move(detail)};
}

std::string ns_label(const std::string& nqn, uint32_t nsid) { return fmt::format("namespace {} of {}", nsid, nqn); }

#define TRY(expr)                                               \
    do {                                                        \
        auto _r = (expr);                                       \
        if (!_r) return std::unexpected(std::move(_r.error())); \
    } while (0)

}  // namespace

Control::Control(target::Target& target, plugin::PluginLoader& plugins, ControlOptions options)
    : target_(target), plugins_(plugins), options_(std::move(options)) {
    if (options_.state_file) store_.emplace(*options_.state_file);
    ana_group_changes_[1] = 0;
    target_.set_controller_observer([this](const target::ControllerInfo& info, bool connected) {
        Event e = make_event(connected ? EventKind::ControllerConnected : EventKind::ControllerDisconnected,
                             info.identity.subnqn, 0, info.identity.port_id, 0, info.identity.hostnqn);
        e.cntlid = info.identity.cntlid;
        // Never take mutex_ here: the control thread may hold it while it
        // waits for this reactor (publish, drain).
        std::function<void(std::function<void()>)> post;
        {
            std::lock_guard lock(executor_mutex_);
            post = executor_;
        }
        if (post)
            post([this, e] {
                std::lock_guard lock(mutex_);
                emit(e);
            });
        else
            emit(e);
    });
}

Control::~Control() {
    shutdown();
    target_.set_controller_observer(nullptr);
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
}

void Control::set_executor(std::function<void(std::function<void()>)> post) {
    std::lock_guard lock(executor_mutex_);
    executor_ = std::move(post);
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
    if (!loaded) return std::unexpected(Error{loaded.error().code, loaded.error().message, "transport"});
    plugin::Params params;
    if (auto it = options_.transport_params.find(name); it != options_.transport_params.end()) params = it->second;
    auto t = (*loaded)->descriptor->create_transport(target_, params);
    if (!t)
        return make_error(ErrorCode::PluginError,
                          fmt::format("transport '{}' refused its settings (see the log)", name), "transport");
    auto* raw = t.get();
    transports_[name] = std::move(t);
    return raw;
}

Result<plugin::Backend*> Control::backend(const std::string& name) {
    if (auto it = backends_.find(name); it != backends_.end()) return it->second.get();
    auto loaded = plugins_.load(plugin::PluginKind::Backend, name);
    if (!loaded) return std::unexpected(Error{loaded.error().code, loaded.error().message, "backend"});
    auto b = (*loaded)->descriptor->create_backend({});
    if (!b) return make_error(ErrorCode::PluginError, fmt::format("backend '{}' failed to start", name), "backend");
    auto* raw = b.get();
    backends_[name] = std::move(b);
    return raw;
}

Result<void> Control::persist(const ExportSpec& spec) {
    if (!store_) return {};
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
        auto sub = std::make_shared<target::Subsystem>();
        sub->nqn = s.nqn;
        sub->serial = s.serial;
        sub->model = s.model;
        sub->allow_any_host = s.allow_any_host;
        sub->hosts = s.hosts;
        std::sort(sub->hosts.begin(), sub->hosts.end());
        sub->max_namespaces = s.max_namespaces;
        for (const auto& ns : s.namespaces) {
            auto it = live_.find({s.nqn, ns.nsid});
            if (it == live_.end()) continue;  // offline
            sub->namespaces.push_back(target::NamespaceEntry{it->second.ns, ns.ana_group, ns.visible_to});
        }
        snap->subsystems.push_back(std::move(sub));
    }
    for (const auto& p : spec_.ports) {
        if (!discovery_addresses_.count(p.id)) continue;  // its transport could not be loaded
        auto port = std::make_shared<target::Port>();
        port->config = plugin::PortConfig{p.id, p.transport, p.family, p.address, p.service, p.params};
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

// ------------------------------------------------------------- startup

Result<bool> Control::load_state() {
    std::lock_guard lock(mutex_);
    if (!store_) return false;
    auto text = store_->read();
    if (!text) return std::unexpected(text.error());
    if (!*text) return false;
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(**text);
    } catch (const nlohmann::json::exception& e) {
        return make_error(ErrorCode::InvalidArgument,
                          fmt::format("state file {} is not valid JSON ({}); it was left untouched. Fix it, or "
                                      "replace it with the previous version {}",
                                      store_->path().string(), printable(e.what()), store_->backup_path().string()));
    }
    auto spec = from_json(j);
    if (!spec)
        return make_error(ErrorCode::InvalidArgument,
                          fmt::format("state file {}: {}; it was left untouched. Fix it, or replace it with the "
                                      "previous version {}",
                                      store_->path().string(), spec.error().describe(),
                                      store_->backup_path().string()));
    auto applied = apply(*spec);
    if (!applied)
        return make_error(applied.error().code,
                          fmt::format("state file {}: {}; it was left untouched", store_->path().string(),
                                      applied.error().describe()));
    return true;
}

Result<void> Control::validate_namespace(const SubsystemSpec& sub, const NamespaceSpec& ns,
                                         const std::vector<uint32_t>& ana_groups) const {
    if (ns.nsid == 0 || ns.nsid > sub.max_namespaces)
        return invalid(fmt::format("NSID must be 1 to {}", sub.max_namespaces), "nsid");
    if (ns.backend.empty()) return invalid("a namespace needs a backend", "backend");
    if (std::find(ana_groups.begin(), ana_groups.end(), ns.ana_group) == ana_groups.end())
        return make_error(ErrorCode::NotFound, fmt::format("ANA group {} does not exist", ns.ana_group), "ana_group");
    for (const auto& h : ns.visible_to) TRY(check_nqn(h, "visible_to"));
    if (!ns.uuid.empty() && !target::parse_uuid(ns.uuid)) return invalid("not a UUID", "uuid");
    if (!ns.nguid.empty() && !target::parse_hex16(ns.nguid)) return invalid("not 32 hex digits", "nguid");
    return {};
}

Result<std::shared_ptr<Namespace>> Control::open_namespace(const std::string& nqn, NamespaceSpec& spec) {
    plugin::Backend* b;
    {
        auto r = backend(spec.backend);
        if (!r) return std::unexpected(r.error());
        b = *r;
    }
    auto dev = b->open(spec.params);
    if (!dev) {
        Error e = dev.error();
        if (!e.field.empty()) e.field = "params." + e.field;
        return std::unexpected(e);
    }
    if (spec.uuid.empty()) spec.uuid = target::format_uuid(target::generate_uuid());
    if (spec.nguid.empty()) spec.nguid = target::format_hex(target::generate_nguid());
    spec.params = (*dev)->persistent_params();
    auto ns = std::make_shared<Namespace>(spec.nsid, spec.backend, std::move(*dev), *target::parse_uuid(spec.uuid),
                                          *target::parse_hex16(spec.nguid), target_.reactors().size());
    log::info("{}: {}", ns_label(nqn, spec.nsid), ns->device().describe());
    return ns;
}

Result<void> Control::prepare_port(const PortSpec& p) {
    plugin::Transport* t;
    {
        auto r = transport(p.transport);
        if (!r) return std::unexpected(r.error());
        t = *r;
    }
    plugin::PortConfig cfg{p.id, p.transport, p.family, p.address, p.service, p.params};
    discovery_addresses_[p.id] = t->discovery_address(cfg);
    return {};
}

Result<void> Control::start_port(const PortSpec& p) {
    // The port must already be in the published snapshot: a host may
    // connect the moment the socket listens.
    plugin::PortConfig cfg{p.id, p.transport, p.family, p.address, p.service, p.params};
    TRY(transports_.at(p.transport)->add_port(cfg));
    live_ports_.insert(p.id);
    return {};
}

Result<ExportSpec> Control::normalize(const ExportSpec& input) const {
    ExportSpec spec = input;
    // Validate the whole thing before bringing anything up.
    if (spec.ana_groups.empty() || std::find(spec.ana_groups.begin(), spec.ana_groups.end(), 1u) == spec.ana_groups.end())
        spec.ana_groups.insert(spec.ana_groups.begin(), 1u);
    std::sort(spec.ana_groups.begin(), spec.ana_groups.end());
    if (std::adjacent_find(spec.ana_groups.begin(), spec.ana_groups.end()) != spec.ana_groups.end())
        return invalid("duplicate ANA group", "ana_groups");
    for (uint32_t g : spec.ana_groups)
        if (g == 0 || g > target::kMaxAnaGroups) return invalid(fmt::format("ANA groups are 1 to {}", target::kMaxAnaGroups), "ana_groups");
    std::sort(spec.subsystems.begin(), spec.subsystems.end(), [](auto& a, auto& b) { return a.nqn < b.nqn; });
    for (size_t i = 0; i < spec.subsystems.size(); ++i) {
        auto& s = spec.subsystems[i];
        std::string where = fmt::format("subsystems[{}]", i);
        TRY(check_nqn(s.nqn, where + ".nqn"));
        if (s.nqn == proto::kDiscoveryNqn) return invalid("the discovery NQN cannot be a subsystem", where + ".nqn");
        if (i > 0 && spec.subsystems[i - 1].nqn == s.nqn) return invalid("duplicate subsystem", where + ".nqn");
        if (s.serial.empty()) s.serial = random_serial();
        if (s.model.empty()) s.model = target_.options().default_model;
        TRY(check_printable(s.serial, 20, where + ".serial"));
        TRY(check_printable(s.model, 40, where + ".model"));
        if (s.max_namespaces == 0 || s.max_namespaces > kMaxNamespacesLimit)
            return invalid(fmt::format("must be 1 to {}", kMaxNamespacesLimit), where + ".max_namespaces");
        for (const auto& h : s.hosts) TRY(check_nqn(h, where + ".hosts"));
        std::sort(s.hosts.begin(), s.hosts.end());
        s.hosts.erase(std::unique(s.hosts.begin(), s.hosts.end()), s.hosts.end());
        std::sort(s.namespaces.begin(), s.namespaces.end(), [](auto& a, auto& b) { return a.nsid < b.nsid; });
        for (size_t k = 0; k < s.namespaces.size(); ++k) {
            auto v = validate_namespace(s, s.namespaces[k], spec.ana_groups);
            if (!v) return invalid(v.error().message, fmt::format("{}.namespaces[{}].{}", where, k, v.error().field));
            if (k > 0 && s.namespaces[k - 1].nsid == s.namespaces[k].nsid)
                return invalid("duplicate NSID", fmt::format("{}.namespaces[{}].nsid", where, k));
        }
    }
    std::sort(spec.ports.begin(), spec.ports.end(), [](auto& a, auto& b) { return a.id < b.id; });
    for (size_t i = 0; i < spec.ports.size(); ++i) {
        auto& p = spec.ports[i];
        std::string where = fmt::format("ports[{}]", i);
        if (p.id == 0) return invalid("port ids start at 1", where + ".id");
        if (i > 0 && spec.ports[i - 1].id == p.id) return invalid("duplicate port id", where + ".id");
        std::sort(p.subsystems.begin(), p.subsystems.end());
        for (const auto& nqn : p.subsystems)
            if (!std::binary_search(spec.subsystems.begin(), spec.subsystems.end(), nqn,
                                    [](const auto& a, const auto& b) {
                                        auto key = [](const auto& x) -> const std::string& {
                                            if constexpr (std::is_same_v<std::decay_t<decltype(x)>, std::string>) return x;
                                            else return x.nqn;
                                        };
                                        return key(a) < key(b);
                                    }))
                return make_error(ErrorCode::NotFound, fmt::format("linked subsystem '{}' does not exist", nqn),
                                  where + ".subsystems");
        for (const auto& [g, st] : p.ana_states)
            if (!std::binary_search(spec.ana_groups.begin(), spec.ana_groups.end(), g))
                return make_error(ErrorCode::NotFound, fmt::format("ANA group {} does not exist", g),
                                  where + ".ana_states");
    }
    return spec;
}

Result<void> Control::apply(const ExportSpec& input) {
    std::lock_guard lock(mutex_);
    auto normalized = normalize(input);
    if (!normalized) return std::unexpected(normalized.error());
    ExportSpec spec = std::move(*normalized);

    // Bring it up: namespaces first, ports last, so that a host never
    // connects to a half-built subsystem.
    for (auto& s : spec.subsystems) {
        for (auto& ns : s.namespaces) {
            auto opened = open_namespace(s.nqn, ns);
            if (!opened) {
                std::string what = ns_label(s.nqn, ns.nsid);
                log::error("{} is offline: {}", what, opened.error().describe());
                offline_[what] = OfflineItem{what, opened.error().describe(), s.nqn, ns.nsid, 0};
                continue;
            }
            live_[{s.nqn, ns.nsid}] = LiveNamespace{*opened};
        }
    }
    spec_ = spec;
    for (const auto& p : spec.ports) {
        auto prepared = prepare_port(p);
        if (!prepared) {
            std::string what = fmt::format("port {}", p.id);
            log::error("{} is offline: {}", what, prepared.error().describe());
            offline_[what] = OfflineItem{what, prepared.error().describe(), {}, 0, p.id};
        }
    }
    publish(true);
    for (const auto& p : spec.ports) {
        if (!discovery_addresses_.count(p.id)) continue;
        auto started = start_port(p);
        if (!started) {
            std::string what = fmt::format("port {}", p.id);
            log::error("{} ({}:{}) is offline: {}", what, p.address, p.service, started.error().describe());
            offline_[what] = OfflineItem{what, started.error().describe(), {}, 0, p.id};
        }
    }
    TRY(persist(spec_));
    publish(true);
    return {};
}

Result<void> Control::restore(const ExportSpec& spec, bool force) {
    std::lock_guard lock(mutex_);
    if (!force && !target_.controllers().all().empty())
        return make_error(ErrorCode::Busy,
                          "hosts are connected; restoring replaces every export (use force to disconnect them)");
    // Check all of it before anything is torn down.
    if (auto v = normalize(spec); !v) return std::unexpected(v.error());
    ExportSpec old = spec_;
    // Tear down what exists.
    for (auto& [name, t] : transports_)
        for (uint16_t id : live_ports_) t->remove_port(id);
    live_ports_.clear();
    discovery_addresses_.clear();
    spec_ = ExportSpec{};
    publish(true);
    for (auto& c : target_.controllers().all()) c->shut_down("configuration restored");
    std::vector<NsKey> keys;
    for (auto& [k, v] : live_) keys.push_back(k);
    for (auto& k : keys) drop_namespace(k);
    offline_.clear();
    auto applied = apply(spec);
    if (!applied) {
        log::error("restore failed ({}); bringing back the previous configuration", applied.error().describe());
        auto back = apply(old);
        if (!back) log::error("could not bring back the previous configuration: {}", back.error().describe());
        return applied;
    }
    return {};
}

// ------------------------------------------------------------- subsystems

Result<void> Control::add_subsystem(const std::string& nqn, const SubsystemSettings& st) {
    std::lock_guard lock(mutex_);
    TRY(check_nqn(nqn, "nqn"));
    if (nqn == proto::kDiscoveryNqn) return invalid("the discovery NQN cannot be a subsystem", "nqn");
    if (find_subsystem(nqn)) return make_error(ErrorCode::AlreadyExists, fmt::format("subsystem '{}' exists", nqn), "nqn");
    SubsystemSpec s;
    s.nqn = nqn;
    s.serial = st.serial.value_or(random_serial());
    s.model = st.model.value_or(target_.options().default_model);
    s.allow_any_host = st.allow_any_host.value_or(false);
    s.max_namespaces = st.max_namespaces.value_or(1024);
    TRY(check_printable(s.serial, 20, "serial"));
    TRY(check_printable(s.model, 40, "model"));
    if (s.max_namespaces == 0 || s.max_namespaces > kMaxNamespacesLimit)
        return invalid(fmt::format("must be 1 to {}", kMaxNamespacesLimit), "max_namespaces");
    ExportSpec next = spec_;
    insert_sorted(next.subsystems, std::move(s), [](const SubsystemSpec& x) { return x.nqn; });
    TRY(persist(next));
    spec_ = std::move(next);
    publish(true);
    log::info("subsystem {} added", nqn);
    emit(make_event(EventKind::SubsystemAdded, nqn));
    return {};
}

Result<void> Control::set_subsystem(const std::string& nqn, const SubsystemSettings& st) {
    std::lock_guard lock(mutex_);
    TRY(need_subsystem(nqn));
    ExportSpec next = spec_;
    SubsystemSpec& s = *std::find_if(next.subsystems.begin(), next.subsystems.end(), [&](auto& x) { return x.nqn == nqn; });
    if (st.serial) {
        TRY(check_printable(*st.serial, 20, "serial"));
        s.serial = *st.serial;
    }
    if (st.model) {
        TRY(check_printable(*st.model, 40, "model"));
        s.model = *st.model;
    }
    if (st.allow_any_host) s.allow_any_host = *st.allow_any_host;
    if (st.max_namespaces) {
        if (*st.max_namespaces == 0 || *st.max_namespaces > kMaxNamespacesLimit)
            return invalid(fmt::format("must be 1 to {}", kMaxNamespacesLimit), "max_namespaces");
        if (!s.namespaces.empty() && s.namespaces.back().nsid > *st.max_namespaces)
            return make_error(ErrorCode::Busy,
                              fmt::format("namespace {} is above the new limit", s.namespaces.back().nsid),
                              "max_namespaces");
        s.max_namespaces = *st.max_namespaces;
    }
    bool access_narrowed = st.allow_any_host && !*st.allow_any_host;
    SubsystemSpec after = s;
    TRY(persist(next));
    spec_ = std::move(next);
    publish(true);
    if (access_narrowed) {
        for (auto& c : target_.controllers().of_subsystem(nqn))
            if (!contains(after.hosts, c->identity().hostnqn)) c->shut_down("host no longer allowed");
    }
    emit(make_event(EventKind::SubsystemChanged, nqn));
    return {};
}

Result<void> Control::remove_subsystem(const std::string& nqn, bool force) {
    std::lock_guard lock(mutex_);
    TRY(need_subsystem(nqn));
    auto connected = target_.controllers().of_subsystem(nqn);
    if (!connected.empty() && !force) {
        std::string hosts;
        for (auto& c : connected) hosts += (hosts.empty() ? "" : ", ") + c->identity().hostnqn;
        return make_error(ErrorCode::Busy,
                          fmt::format("{} host controller(s) connected to '{}' ({}); disconnect them or use force",
                                      connected.size(), nqn, hosts),
                          "nqn");
    }
    ExportSpec next = spec_;
    std::vector<uint32_t> nsids;
    for (auto& s : next.subsystems)
        if (s.nqn == nqn)
            for (auto& ns : s.namespaces) nsids.push_back(ns.nsid);
    std::erase_if(next.subsystems, [&](auto& s) { return s.nqn == nqn; });
    for (auto& p : next.ports) std::erase(p.subsystems, nqn);
    TRY(persist(next));
    spec_ = std::move(next);
    publish(true);
    for (auto& c : connected) c->shut_down("subsystem removed");
    for (uint32_t id : nsids) {
        drop_namespace({nqn, id});
        offline_.erase(ns_label(nqn, id));
    }
    log::info("subsystem {} removed", nqn);
    emit(make_event(EventKind::SubsystemRemoved, nqn));
    return {};
}

Result<void> Control::allow_host(const std::string& nqn, const std::string& hostnqn) {
    std::lock_guard lock(mutex_);
    TRY(need_subsystem(nqn));
    TRY(check_nqn(hostnqn, "host"));
    ExportSpec next = spec_;
    auto& s = *std::find_if(next.subsystems.begin(), next.subsystems.end(), [&](auto& x) { return x.nqn == nqn; });
    if (std::binary_search(s.hosts.begin(), s.hosts.end(), hostnqn))
        return make_error(ErrorCode::AlreadyExists, fmt::format("host '{}' is already allowed on '{}'", hostnqn, nqn),
                          "host");
    insert_sorted_string(s.hosts, hostnqn);
    TRY(persist(next));
    spec_ = std::move(next);
    publish(true);
    emit(make_event(EventKind::SubsystemChanged, nqn, 0, 0, 0, hostnqn));
    return {};
}

Result<void> Control::disallow_host(const std::string& nqn, const std::string& hostnqn) {
    std::lock_guard lock(mutex_);
    TRY(need_subsystem(nqn));
    ExportSpec next = spec_;
    auto& s = *std::find_if(next.subsystems.begin(), next.subsystems.end(), [&](auto& x) { return x.nqn == nqn; });
    if (!std::binary_search(s.hosts.begin(), s.hosts.end(), hostnqn))
        return make_error(ErrorCode::NotFound, fmt::format("host '{}' is not on the allowed list of '{}'", hostnqn, nqn),
                          "host");
    std::erase(s.hosts, hostnqn);
    bool any = s.allow_any_host;
    TRY(persist(next));
    spec_ = std::move(next);
    publish(true);
    // Revoking access takes effect now, not at the host's next reconnect.
    if (!any)
        for (auto& c : target_.controllers().of_subsystem(nqn))
            if (c->identity().hostnqn == hostnqn) c->shut_down("host access revoked");
    emit(make_event(EventKind::SubsystemChanged, nqn, 0, 0, 0, hostnqn));
    return {};
}

// ------------------------------------------------------------- namespaces

Result<uint32_t> Control::add_namespace(const std::string& nqn, const NamespaceSettings& st) {
    std::lock_guard lock(mutex_);
    SubsystemSpec* sub;
    {
        auto r = need_subsystem(nqn);
        if (!r) return std::unexpected(r.error());
        sub = *r;
    }
    NamespaceSpec ns;
    ns.nsid = st.nsid;
    if (ns.nsid == 0) {
        uint32_t id = 1;
        for (const auto& e : sub->namespaces) {
            if (e.nsid != id) break;
            ++id;
        }
        if (id > sub->max_namespaces)
            return make_error(ErrorCode::Busy, fmt::format("'{}' has no free NSID (max {})", nqn, sub->max_namespaces),
                              "nsid");
        ns.nsid = id;
    }
    for (const auto& e : sub->namespaces)
        if (e.nsid == ns.nsid)
            return make_error(ErrorCode::AlreadyExists, fmt::format("NSID {} is in use in '{}'", ns.nsid, nqn), "nsid");
    ns.backend = st.backend;
    ns.params = st.params;
    ns.ana_group = st.ana_group;
    ns.visible_to = st.visible_to;
    ns.uuid = st.uuid;
    ns.nguid = st.nguid;
    TRY(validate_namespace(*sub, ns, spec_.ana_groups));
    auto opened = open_namespace(nqn, ns);
    if (!opened) return std::unexpected(opened.error());
    ExportSpec next = spec_;
    auto& s = *std::find_if(next.subsystems.begin(), next.subsystems.end(), [&](auto& x) { return x.nqn == nqn; });
    insert_sorted(s.namespaces, ns, [](const NamespaceSpec& x) { return x.nsid; });
    TRY(persist(next));
    spec_ = std::move(next);
    live_[{nqn, ns.nsid}] = LiveNamespace{*opened};
    publish(false);
    target_.notify_namespaces_changed(nqn, {ns.nsid});
    emit(make_event(EventKind::NamespaceAdded, nqn, ns.nsid));
    return ns.nsid;
}

Result<void> Control::remove_namespace(const std::string& nqn, uint32_t nsid) {
    std::lock_guard lock(mutex_);
    SubsystemSpec* sub;
    {
        auto r = need_subsystem(nqn);
        if (!r) return std::unexpected(r.error());
        sub = *r;
    }
    if (std::none_of(sub->namespaces.begin(), sub->namespaces.end(), [&](auto& n) { return n.nsid == nsid; }))
        return make_error(ErrorCode::NotFound, fmt::format("'{}' has no namespace {}", nqn, nsid), "nsid");
    ExportSpec next = spec_;
    auto& s = *std::find_if(next.subsystems.begin(), next.subsystems.end(), [&](auto& x) { return x.nqn == nqn; });
    std::erase_if(s.namespaces, [&](auto& n) { return n.nsid == nsid; });
    TRY(persist(next));
    spec_ = std::move(next);
    publish(false);
    drop_namespace({nqn, nsid});
    offline_.erase(ns_label(nqn, nsid));
    target_.notify_namespaces_changed(nqn, {nsid});
    log::info("{} removed", ns_label(nqn, nsid));
    emit(make_event(EventKind::NamespaceRemoved, nqn, nsid));
    return {};
}

Result<void> Control::resize_namespace(const std::string& nqn, uint32_t nsid, uint64_t new_size) {
    std::lock_guard lock(mutex_);
    TRY(need_subsystem(nqn));
    auto it = live_.find({nqn, nsid});
    if (it == live_.end())
        return make_error(ErrorCode::NotFound, fmt::format("'{}' has no namespace {} online", nqn, nsid), "nsid");
    Namespace& ns = *it->second.ns;
    if (new_size == 0 || new_size % ns.block_size())
        return invalid(fmt::format("must be a non-zero multiple of the block size ({})", ns.block_size()), "size");
    uint64_t old_size = ns.size_bytes();
    TRY(ns.device().resize(new_size));
    ExportSpec next = spec_;
    auto& s = *std::find_if(next.subsystems.begin(), next.subsystems.end(), [&](auto& x) { return x.nqn == nqn; });
    auto& n = *std::find_if(s.namespaces.begin(), s.namespaces.end(), [&](auto& x) { return x.nsid == nsid; });
    n.params = ns.device().persistent_params();
    if (auto p = persist(next); !p) {
        (void)ns.device().resize(old_size);
        return std::unexpected(p.error());
    }
    spec_ = std::move(next);
    ns.set_num_blocks(new_size / ns.block_size());
    publish(false);
    target_.notify_namespaces_changed(nqn, {nsid});
    log::info("{} resized from {} to {} bytes", ns_label(nqn, nsid), old_size, new_size);
    emit(make_event(EventKind::NamespaceChanged, nqn, nsid, 0, 0, "resized"));
    return {};
}

Result<void> Control::set_namespace_visibility(const std::string& nqn, uint32_t nsid, std::vector<std::string> hosts) {
    std::lock_guard lock(mutex_);
    TRY(need_subsystem(nqn));
    for (const auto& h : hosts) TRY(check_nqn(h, "hosts"));
    ExportSpec next = spec_;
    auto& s = *std::find_if(next.subsystems.begin(), next.subsystems.end(), [&](auto& x) { return x.nqn == nqn; });
    auto n = std::find_if(s.namespaces.begin(), s.namespaces.end(), [&](auto& x) { return x.nsid == nsid; });
    if (n == s.namespaces.end())
        return make_error(ErrorCode::NotFound, fmt::format("'{}' has no namespace {}", nqn, nsid), "nsid");
    std::sort(hosts.begin(), hosts.end());
    hosts.erase(std::unique(hosts.begin(), hosts.end()), hosts.end());
    n->visible_to = hosts;
    TRY(persist(next));
    spec_ = std::move(next);
    publish(false);
    target_.notify_namespaces_changed(nqn, {nsid});
    emit(make_event(EventKind::NamespaceChanged, nqn, nsid, 0, 0, "visibility"));
    return {};
}

Result<void> Control::set_namespace_ana_group(const std::string& nqn, uint32_t nsid, uint32_t group) {
    std::lock_guard lock(mutex_);
    TRY(need_subsystem(nqn));
    if (std::find(spec_.ana_groups.begin(), spec_.ana_groups.end(), group) == spec_.ana_groups.end())
        return make_error(ErrorCode::NotFound, fmt::format("ANA group {} does not exist", group), "ana_group");
    ExportSpec next = spec_;
    auto& s = *std::find_if(next.subsystems.begin(), next.subsystems.end(), [&](auto& x) { return x.nqn == nqn; });
    auto n = std::find_if(s.namespaces.begin(), s.namespaces.end(), [&](auto& x) { return x.nsid == nsid; });
    if (n == s.namespaces.end())
        return make_error(ErrorCode::NotFound, fmt::format("'{}' has no namespace {}", nqn, nsid), "nsid");
    n->ana_group = group;
    TRY(persist(next));
    spec_ = std::move(next);
    ++ana_change_count_;
    ++ana_group_changes_[group];
    publish(false);
    target_.notify_ana_changed({nqn});
    emit(make_event(EventKind::NamespaceChanged, nqn, nsid, 0, group, "ana-group"));
    return {};
}

// ------------------------------------------------------------- ports

Result<uint16_t> Control::add_port(const PortSettings& st) {
    std::lock_guard lock(mutex_);
    PortSpec p;
    p.id = st.id;
    if (p.id == 0) {
        uint16_t id = 1;
        for (const auto& e : spec_.ports) {
            if (e.id != id) break;
            ++id;
        }
        p.id = id;
    }
    if (find_port(p.id)) return make_error(ErrorCode::AlreadyExists, fmt::format("port {} exists", p.id), "id");
    p.transport = st.transport;
    p.family = st.family;
    p.address = st.address;
    p.service = st.service;
    p.params = st.params;
    if (p.address.empty()) return invalid("a port needs an address", "address");
    uint32_t svc = 0;
    auto [ptr, ec] = std::from_chars(p.service.data(), p.service.data() + p.service.size(), svc);
    if (ec != std::errc() || ptr != p.service.data() + p.service.size() || svc == 0 || svc > 65535)
        return invalid(fmt::format("'{}' is not a port number (1-65535)", p.service), "service");
    for (const auto& e : spec_.ports)
        if (e.transport == p.transport && e.address == p.address && e.service == p.service)
            return make_error(ErrorCode::AlreadyExists,
                              fmt::format("port {} already listens on {}:{}", e.id, p.address, p.service), "address");
    TRY(prepare_port(p));
    ExportSpec previous = spec_;
    auto back_out = [&] {
        spec_ = previous;
        discovery_addresses_.erase(p.id);
        publish(true);
    };
    // Listen first, persist second: a port that cannot listen (address in
    // use, bad family) must never reach the state file or its backup. It
    // joins the snapshot before it listens, so that a host connecting at
    // once finds it. A crash before the persist loses only a change that
    // was never acknowledged.
    insert_sorted(spec_.ports, p, [](const PortSpec& x) { return x.id; });
    publish(true);
    if (auto started = start_port(p); !started) {
        back_out();
        return std::unexpected(started.error());
    }
    if (auto r = persist(spec_); !r) {
        transports_.at(p.transport)->remove_port(p.id);
        live_ports_.erase(p.id);
        target_.disconnect_port(p.id, "port could not be saved");
        back_out();
        return std::unexpected(r.error());
    }
    emit(make_event(EventKind::PortAdded, {}, 0, p.id));
    return p.id;
}

Result<void> Control::remove_port(uint16_t id, bool force) {
    std::lock_guard lock(mutex_);
    PortSpec* p;
    {
        auto r = need_port(id);
        if (!r) return std::unexpected(r.error());
        p = *r;
    }
    size_t connected = 0;
    for (auto& c : target_.controllers().all())
        if (c->identity().port_id == id) ++connected;
    if (connected && !force)
        return make_error(ErrorCode::Busy,
                          fmt::format("{} controller(s) are connected through port {}; use force", connected, id),
                          "port");
    std::string transport_name = p->transport;
    ExportSpec next = spec_;
    std::erase_if(next.ports, [&](auto& x) { return x.id == id; });
    TRY(persist(next));
    spec_ = std::move(next);
    if (live_ports_.count(id)) {
        if (auto it = transports_.find(transport_name); it != transports_.end()) it->second->remove_port(id);
        live_ports_.erase(id);
    }
    target_.disconnect_port(id, "port removed");
    discovery_addresses_.erase(id);
    offline_.erase(fmt::format("port {}", id));
    publish(true);
    emit(make_event(EventKind::PortRemoved, {}, 0, id));
    return {};
}

Result<void> Control::link_subsystem(uint16_t port, const std::string& nqn) {
    std::lock_guard lock(mutex_);
    TRY(need_port(port));
    TRY(need_subsystem(nqn));
    ExportSpec next = spec_;
    auto& p = *std::find_if(next.ports.begin(), next.ports.end(), [&](auto& x) { return x.id == port; });
    if (std::binary_search(p.subsystems.begin(), p.subsystems.end(), nqn))
        return make_error(ErrorCode::AlreadyExists, fmt::format("'{}' is already on port {}", nqn, port), "nqn");
    insert_sorted_string(p.subsystems, nqn);
    TRY(persist(next));
    spec_ = std::move(next);
    publish(true);
    emit(make_event(EventKind::PortChanged, nqn, 0, port));
    return {};
}

Result<void> Control::unlink_subsystem(uint16_t port, const std::string& nqn, bool force) {
    std::lock_guard lock(mutex_);
    TRY(need_port(port));
    ExportSpec next = spec_;
    auto& p = *std::find_if(next.ports.begin(), next.ports.end(), [&](auto& x) { return x.id == port; });
    if (!std::binary_search(p.subsystems.begin(), p.subsystems.end(), nqn))
        return make_error(ErrorCode::NotFound, fmt::format("'{}' is not on port {}", nqn, port), "nqn");
    std::vector<std::shared_ptr<target::Controller>> through;
    for (auto& c : target_.controllers().of_subsystem(nqn))
        if (c->identity().port_id == port) through.push_back(c);
    if (!through.empty() && !force)
        return make_error(ErrorCode::Busy,
                          fmt::format("{} controller(s) of '{}' are connected through port {}; use force",
                                      through.size(), nqn, port),
                          "nqn");
    std::erase(p.subsystems, nqn);
    TRY(persist(next));
    spec_ = std::move(next);
    publish(true);
    for (auto& c : through) c->shut_down("subsystem unlinked from the port");
    emit(make_event(EventKind::PortChanged, nqn, 0, port));
    return {};
}

// ------------------------------------------------------------- ANA

Result<void> Control::add_ana_group(uint32_t group) {
    std::lock_guard lock(mutex_);
    if (group == 0 || group > target::kMaxAnaGroups)
        return invalid(fmt::format("ANA groups are 1 to {}", target::kMaxAnaGroups), "group");
    if (std::find(spec_.ana_groups.begin(), spec_.ana_groups.end(), group) != spec_.ana_groups.end())
        return make_error(ErrorCode::AlreadyExists, fmt::format("ANA group {} exists", group), "group");
    ExportSpec next = spec_;
    next.ana_groups.insert(std::lower_bound(next.ana_groups.begin(), next.ana_groups.end(), group), group);
    TRY(persist(next));
    spec_ = std::move(next);
    publish(false);
    return {};
}

Result<void> Control::remove_ana_group(uint32_t group) {
    std::lock_guard lock(mutex_);
    if (group == 1) return invalid("group 1 is the default group and cannot be removed", "group");
    if (std::find(spec_.ana_groups.begin(), spec_.ana_groups.end(), group) == spec_.ana_groups.end())
        return make_error(ErrorCode::NotFound, fmt::format("ANA group {} does not exist", group), "group");
    for (const auto& s : spec_.subsystems)
        for (const auto& ns : s.namespaces)
            if (ns.ana_group == group)
                return make_error(ErrorCode::Busy,
                                  fmt::format("namespace {} of '{}' is in ANA group {}", ns.nsid, s.nqn, group), "group");
    ExportSpec next = spec_;
    std::erase(next.ana_groups, group);
    for (auto& p : next.ports) p.ana_states.erase(group);
    TRY(persist(next));
    spec_ = std::move(next);
    publish(false);
    return {};
}

Result<void> Control::set_ana_state(uint16_t port, uint32_t group, proto::AnaState state) {
    std::lock_guard lock(mutex_);
    TRY(need_port(port));
    if (std::find(spec_.ana_groups.begin(), spec_.ana_groups.end(), group) == spec_.ana_groups.end())
        return make_error(ErrorCode::NotFound, fmt::format("ANA group {} does not exist", group), "group");
    ExportSpec next = spec_;
    auto& p = *std::find_if(next.ports.begin(), next.ports.end(), [&](auto& x) { return x.id == port; });
    if (state == proto::AnaState::Optimized) p.ana_states.erase(group); else p.ana_states[group] = state;
    std::vector<std::string> affected = p.subsystems;
    TRY(persist(next));
    spec_ = std::move(next);
    ++ana_change_count_;
    ++ana_group_changes_[group];
    publish(false);
    target_.notify_ana_changed(affected);
    log::info("ANA group {} on port {} is now {}", group, port, target::ana_state_name(state));
    emit(make_event(EventKind::AnaStateChanged, {}, 0, port, group, target::ana_state_name(state)));
    return {};
}

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

}  // namespace nvmfd::control
