// The control API at start and on restore: reading the state file, checking a whole
// configuration, bringing it up (namespaces first, ports last).
#include "core/control/control.hpp"

#include <algorithm>

#include "core/control/control_helpers.hpp"
#include "core/control/data_path_rules.hpp"
#include "core/control/host_auth_rules.hpp"
#include "core/control/secrets_file.hpp"
#include "core/control/state_json.hpp"
#include "core/proto/fabrics.hpp"
#include "core/runtime/log.hpp"
#include "core/target/ana.hpp"
#include "core/target/identifiers.hpp"

namespace nvmfd::control {

using namespace detail;
using target::Namespace;

// ------------------------------------------------------------- startup

Result<bool> Control::load_state() {
    std::lock_guard lock(mutex_);
    if (!store_) return false;
    auto text = store_->read();
    if (!text) return nvmfd::unexpected(text.error());
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
    TRY(load_secrets(*spec));
    auto applied = apply(*spec);
    if (!applied)
        return make_error(applied.error().code,
                          fmt::format("state file {}: {}; it was left untouched", store_->path().string(),
                                      applied.error().describe()));
    return true;
}

// Secrets the state names are filled in from the secrets file; one it
// lacks leaves its host refused (target::HostAuth::problem), not open.
Result<void> Control::load_secrets(ExportSpec& spec) {
    StateStore secrets(secrets_path_for(store_->path()));
    auto text = secrets.read();
    if (!text) return nvmfd::unexpected(text.error());
    if (*text) {
        nlohmann::json j = nlohmann::json::parse(**text, nullptr, false);
        if (j.is_discarded())
            return make_error(ErrorCode::InvalidArgument,
                              fmt::format("secrets file {} is not valid JSON; it was left untouched",
                                          secrets.path().string()));
        auto merged = merge_secrets(spec, j);
        if (!merged)
            return make_error(ErrorCode::InvalidArgument, fmt::format("secrets file {}: {}; it was left untouched",
                                                                      secrets.path().string(),
                                                                      merged.error().describe()));
    }
    for (const auto& s : spec.subsystems)
        for (const auto& [host, a] : s.host_auth)
            if (a.dhchap_secret.missing() || a.dhchap_ctrl_secret.missing() || a.tls_psk.missing())
                log::error("host {} on {}: a secret named by the state file is missing from {}; the host will be "
                           "refused until it is set again (nvmfctl host set-key)",
                           host, s.nqn, secrets.path().string());
    return {};
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
        if (!r) return nvmfd::unexpected(r.error());
        b = *r;
    }
    auto params_error = [](Error e) {
        if (!e.field.empty()) e.field = "params." + e.field;
        return nvmfd::unexpected(e);
    };
    if (options_.dry_run) {
        // The backend's own checks, without opening anything: no live namespace.
        if (auto ok = b->check(spec.params); !ok) return params_error(ok.error());
        if (spec.uuid.empty()) spec.uuid = target::format_uuid(target::generate_uuid());
        if (spec.nguid.empty()) spec.nguid = target::format_hex(target::generate_nguid());
        return std::shared_ptr<Namespace>();
    }
    auto dev = b->open(spec.params);
    if (!dev) return params_error(dev.error());
    if (spec.uuid.empty()) spec.uuid = target::format_uuid(target::generate_uuid());
    if (spec.nguid.empty()) spec.nguid = target::format_hex(target::generate_nguid());
    spec.params = (*dev)->persistent_params();
    auto ns = std::make_shared<Namespace>(spec.nsid, spec.backend, std::move(*dev), *target::parse_uuid(spec.uuid),
                                          *target::parse_hex16(spec.nguid), target_.reactors().size());
    log::info("{}: {}", ns_label(nqn, spec.nsid), ns->device().describe());
    watch_device_health(nqn, *ns);
    return ns;
}

Result<void> Control::prepare_port(const PortSpec& p) {
    if (options_.dry_run) {
        // Only that the transport plugin exists: creating one may start its machinery.
        auto loaded = plugins_.load(plugin::PluginKind::Transport, p.transport);
        if (!loaded) return nvmfd::unexpected(Error{loaded.error().code, loaded.error().message, "transport"});
        return {};
    }
    plugin::Transport* t;
    {
        auto r = transport(p.transport);
        if (!r) return nvmfd::unexpected(r.error());
        t = *r;
    }
    plugin::PortConfig cfg = port_config(p);
    discovery_addresses_[p.id] = t->discovery_address(cfg);
    return {};
}

Result<void> Control::start_port(const PortSpec& p) {
    // The port must already be in the published snapshot: a host may
    // connect the moment the socket listens.
    if (options_.dry_run) return {};
    plugin::PortConfig cfg = port_config(p);
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
        TRY(check_cntlid_range(s.min_cntlid, s.max_cntlid, where + "."));
        for (const auto& h : s.hosts) TRY(check_nqn(h, where + ".hosts"));
        std::sort(s.hosts.begin(), s.hosts.end());
        s.hosts.erase(std::unique(s.hosts.begin(), s.hosts.end()), s.hosts.end());
        for (auto& [host, a] : s.host_auth) {
            std::string at = fmt::format("{}.host_auth[{}]", where, host);
            if (!std::binary_search(s.hosts.begin(), s.hosts.end(), host))
                return invalid("keys for a host that is not allowed on the subsystem", at);
            TRY(check_host_auth(a, at + "."));
        }
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
        TRY(check_secure_channel(p, where + ".secure_channel"));
        if (p.transport == "fc") p.family = "fc", p.service.clear();  // as add_port makes them
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
    TRY(check_data_paths(spec));
    std::sort(spec.policies.begin(), spec.policies.end(), [](auto& a, auto& b) { return a.name < b.name; });
    for (size_t i = 0; i < spec.policies.size(); ++i) {
        std::string field = fmt::format("policies[{}].name", i);
        TRY(check_policy_name(spec.policies[i].name, field));
        if (i > 0 && spec.policies[i - 1].name == spec.policies[i].name) return invalid("duplicate policy", field);
    }
    return spec;
}

Result<void> Control::apply_export(const ExportSpec& input, bool admin_change) {
    std::lock_guard lock(mutex_);
    auto normalized = normalize(input);
    if (!normalized) return nvmfd::unexpected(normalized.error());
    ExportSpec spec = std::move(*normalized);

    // Bring it up: namespaces first, ports last, so that a host never
    // connects to a half-built subsystem.
    // The kernel's part first: the kernel serves it by itself (and kept
    // serving it while nvmfd was down).
    TRY(start_kernel_export(spec, admin_change));
    for (auto& s : spec.subsystems) {
        if (s.data_path == DataPath::Kernel) continue;
        for (auto& ns : s.namespaces) {
            auto opened = open_namespace(s.nqn, ns);
            if (!opened) {
                std::string what = ns_label(s.nqn, ns.nsid);
                log::error("{} is offline: {}", what, opened.error().describe());
                offline_[what] = OfflineItem{what, opened.error().describe(), s.nqn, ns.nsid, 0};
                continue;
            }
            if (*opened) {  // none in a dry run
                live_[{s.nqn, ns.nsid}] = LiveNamespace{*opened};
                lent_memory_.device_opened((*opened)->device());
            }
        }
    }
    spec_ = spec;
    for (const auto& p : spec.ports) {
        if (p.data_path == DataPath::Kernel) continue;
        auto prepared = prepare_port(p);
        if (!prepared) {
            std::string what = fmt::format("port {}", p.id);
            log::error("{} is offline: {}", what, prepared.error().describe());
            offline_[what] = OfflineItem{what, prepared.error().describe(), {}, 0, p.id};
        }
    }
    publish(true);
    for (const auto& p : spec.ports) {
        if (options_.dry_run || !discovery_addresses_.count(p.id)) continue;
        if (hold_listeners_) {
            held_ports_.push_back(p.id);
            continue;
        }
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

void Control::hold_listeners() {
    std::lock_guard lock(mutex_);
    hold_listeners_ = true;
}

void Control::release_listeners() {
    std::lock_guard lock(mutex_);
    hold_listeners_ = false;
    for (uint16_t id : std::exchange(held_ports_, {})) {
        PortSpec* p = find_port(id);
        if (!p) continue;  // removed meanwhile
        auto started = start_port(*p);
        if (!started) {
            std::string what = fmt::format("port {}", id);
            log::error("{} ({}:{}) is offline: {}", what, p->address, p->service, started.error().describe());
            offline_[what] = OfflineItem{what, started.error().describe(), {}, 0, id};
            publish(true);
        }
    }
}

Result<void> Control::restore(const ExportSpec& spec, bool force) {
    std::lock_guard lock(mutex_);
    if (!force && !target_.controllers().all().empty())
        return make_error(ErrorCode::Busy,
                          "hosts are connected; restoring replaces every export (use force to disconnect them)");
    // Policies are code the policy engine is running: they change through
    // it (put_policy/remove_policy), not behind its back. A restore keeps
    // the running ones and ignores those in the restored file.
    ExportSpec wanted = spec;
    wanted.policies = spec_.policies;
    // An exported configuration names hosts' keys without their values:
    // those come from the secrets nvmfd holds for the same host. A key
    // nvmfd does not hold stays missing, and its host refused.
    for (auto& s : wanted.subsystems)
        for (auto& [host, a] : s.host_auth)
            for (const auto& old : spec_.subsystems)
                if (old.nqn == s.nqn)
                    if (auto it = old.host_auth.find(host); it != old.host_auth.end()) {
                        for (auto [mine, theirs] : {std::pair{&a.dhchap_secret, &it->second.dhchap_secret},
                                                    std::pair{&a.dhchap_ctrl_secret, &it->second.dhchap_ctrl_secret},
                                                    std::pair{&a.tls_psk, &it->second.tls_psk}})
                            if (mine->missing()) mine->text = theirs->text;
                    }
    // Check all of it before anything is torn down.
    if (auto v = normalize(wanted); !v) return nvmfd::unexpected(v.error());
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
    auto applied = apply_export(wanted, true);
    if (!applied) {
        log::error("restore failed ({}); bringing back the previous configuration", applied.error().describe());
        auto back = apply_export(old, true);
        if (!back) log::error("could not bring back the previous configuration: {}", back.error().describe());
        return applied;
    }
    return {};
}

}  // namespace nvmfd::control
