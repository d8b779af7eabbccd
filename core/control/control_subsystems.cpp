// The control API for subsystems and the hosts allowed on them.
#include "core/control/control.hpp"

#include <algorithm>

#include "core/control/control_helpers.hpp"
#include "core/control/host_auth_rules.hpp"
#include "core/proto/fabrics.hpp"
#include "core/runtime/log.hpp"

namespace nvmfd::control {

using namespace detail;
using target::Namespace;

// ------------------------------------------------------------- subsystems

Result<void> Control::add_subsystem(const std::string& nqn, const SubsystemSettings& st) {
    std::lock_guard lock(mutex_);
    TRY(check_nqn(nqn, "nqn"));
    if (nqn == proto::kDiscoveryNqn) return invalid("the discovery NQN cannot be a subsystem", "nqn");
    if (find_subsystem(nqn)) return make_error(ErrorCode::AlreadyExists, fmt::format("subsystem '{}' exists", nqn), "nqn");
    SubsystemSpec s;
    s.nqn = nqn;
    s.data_path = st.data_path.value_or(DataPath::Nvmfd);
    s.passthru_device = st.passthru_device.value_or("");
    s.serial = st.serial.value_or(random_serial());
    s.model = st.model.value_or(target_.options().default_model);
    s.allow_any_host = st.allow_any_host.value_or(false);
    s.max_namespaces = st.max_namespaces.value_or(1024);
    TRY(check_printable(s.serial, 20, "serial"));
    TRY(check_printable(s.model, 40, "model"));
    if (s.max_namespaces == 0 || s.max_namespaces > kMaxNamespacesLimit)
        return invalid(fmt::format("must be 1 to {}", kMaxNamespacesLimit), "max_namespaces");
    s.min_cntlid = st.min_cntlid.value_or(s.min_cntlid);
    s.max_cntlid = st.max_cntlid.value_or(s.max_cntlid);
    TRY(check_cntlid_range(s.min_cntlid, s.max_cntlid, ""));
    const bool s_kernel = s.data_path == DataPath::Kernel;
    ExportSpec next = spec_;
    insert_sorted(next.subsystems, std::move(s), [](const SubsystemSpec& x) { return x.nqn; });
    TRY(persist(next));
    spec_ = std::move(next);
    publish(true);
    log::info("subsystem {} added{}", nqn, s_kernel ? " (served by the kernel)" : "");
    emit(make_event(EventKind::SubsystemAdded, nqn));
    return {};
}

Result<void> Control::set_subsystem(const std::string& nqn, const SubsystemSettings& st) {
    std::lock_guard lock(mutex_);
    TRY(need_subsystem(nqn));
    ExportSpec next = spec_;
    SubsystemSpec& s = *std::find_if(next.subsystems.begin(), next.subsystems.end(), [&](auto& x) { return x.nqn == nqn; });
    if (st.data_path && *st.data_path != s.data_path)
        return invalid(fmt::format("'{}' is served by {}; the data path is chosen when a subsystem is made (remove it "
                                   "and add it again)",
                                   nqn, s.data_path == DataPath::Kernel ? "the kernel" : "nvmfd"),
                       "data_path");
    if (st.passthru_device) s.passthru_device = *st.passthru_device;
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
    // A new range applies to new controllers; live ones keep their IDs.
    if (st.min_cntlid || st.max_cntlid) {
        TRY(check_cntlid_range(st.min_cntlid.value_or(s.min_cntlid), st.max_cntlid.value_or(s.max_cntlid), ""));
        s.min_cntlid = st.min_cntlid.value_or(s.min_cntlid);
        s.max_cntlid = st.max_cntlid.value_or(s.max_cntlid);
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

Result<void> Control::allow_host(const std::string& nqn, const std::string& hostnqn, const HostKeyUpdate& keys) {
    std::lock_guard lock(mutex_);
    TRY(need_subsystem(nqn));
    TRY(check_nqn(hostnqn, "host"));
    ExportSpec next = spec_;
    auto& s = *std::find_if(next.subsystems.begin(), next.subsystems.end(), [&](auto& x) { return x.nqn == nqn; });
    if (std::binary_search(s.hosts.begin(), s.hosts.end(), hostnqn))
        return make_error(ErrorCode::AlreadyExists, fmt::format("host '{}' is already allowed on '{}'", hostnqn, nqn),
                          "host");
    insert_sorted_string(s.hosts, hostnqn);
    // Allowed with its keys in one change: never for a moment without them.
    if (!keys.empty()) {
        HostAuthSpec a;
        TRY(update_host_auth(a, keys));
        if (!a.empty()) s.host_auth[hostnqn] = std::move(a);
    }
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
    s.host_auth.erase(hostnqn);
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

}  // namespace nvmfd::control
