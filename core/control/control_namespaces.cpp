// The control API for namespaces: hot add and remove, resize, visibility, ANA group.
#include "core/control/control.hpp"

#include <algorithm>

#include "core/control/control_helpers.hpp"
#include "core/control/data_path_rules.hpp"
#include "core/runtime/log.hpp"
#include "core/target/identifiers.hpp"

namespace nvmfd::control {

using namespace detail;
using target::Namespace;

// ------------------------------------------------------------- namespaces

Result<uint32_t> Control::add_namespace(const std::string& nqn, const NamespaceSettings& st) {
    std::lock_guard lock(mutex_);
    SubsystemSpec* sub;
    {
        auto r = need_subsystem(nqn);
        if (!r) return nvmfd::unexpected(r.error());
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
    {
        // The data path's rules before any backend is asked to open it.
        ExportSpec candidate = spec_;
        auto& s = *std::find_if(candidate.subsystems.begin(), candidate.subsystems.end(), [&](auto& x) { return x.nqn == nqn; });
        insert_sorted(s.namespaces, ns, [](const NamespaceSpec& x) { return x.nsid; });
        TRY(check_data_paths(candidate));
    }
    // A kernel-served namespace is opened by the kernel (persist writes it there).
    Result<std::shared_ptr<Namespace>> opened = std::shared_ptr<Namespace>();
    if (sub->data_path == DataPath::Kernel) {
        if (ns.uuid.empty()) ns.uuid = target::format_uuid(target::generate_uuid());
        if (ns.nguid.empty()) ns.nguid = target::format_hex(target::generate_nguid());
    } else {
        opened = open_namespace(nqn, ns);
    }
    if (!opened) return nvmfd::unexpected(opened.error());
    ExportSpec next = spec_;
    auto& s = *std::find_if(next.subsystems.begin(), next.subsystems.end(), [&](auto& x) { return x.nqn == nqn; });
    insert_sorted(s.namespaces, ns, [](const NamespaceSpec& x) { return x.nsid; });
    TRY(persist(next));
    spec_ = std::move(next);
    if (*opened) {  // none in a dry run
        live_[{nqn, ns.nsid}] = LiveNamespace{*opened};
        lent_memory_.device_opened((*opened)->device());
    }
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
        if (!r) return nvmfd::unexpected(r.error());
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
    if (find_subsystem(nqn)->data_path == DataPath::Kernel)
        return make_error(ErrorCode::NotSupported,
                          fmt::format("'{}' is served by the kernel, which sizes a namespace by its device: grow "
                                      "the block device or file instead",
                                      nqn),
                          "size");
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
        return nvmfd::unexpected(p.error());
    }
    spec_ = std::move(next);
    ns.set_num_blocks(new_size / ns.block_size());
    lent_memory_.device_resized(ns.device());
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

}  // namespace nvmfd::control
