// The control API for ports (listen, link subsystems) and ANA groups and states.
#include "core/control/control.hpp"

#include <algorithm>
#include <charconv>

#include "core/control/control_helpers.hpp"
#include "core/control/data_path_rules.hpp"
#include "core/control/kernel_export.hpp"
#include "core/runtime/log.hpp"
#include "core/target/ana.hpp"

namespace nvmfd::control {

using namespace detail;
using target::Namespace;

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
    p.data_path = st.data_path;
    p.transport = st.transport;
    p.family = st.family;
    p.address = st.address;
    p.service = st.service;
    p.params = st.params;
    p.secure_channel = st.secure_channel;
    TRY(check_secure_channel(p, "secure_channel"));
    if (p.address.empty()) return invalid("a port needs an address", "address");
    if (p.data_path == DataPath::Kernel) TRY(check_kernel_port(p, st.id == 0));
    if (p.transport == "fc") {
        // Addressed by its world wide names alone (nn-0x...:pn-0x...).
        p.family = "fc";
        p.service.clear();
    } else {
        uint32_t svc = 0;
        auto [ptr, ec] = std::from_chars(p.service.data(), p.service.data() + p.service.size(), svc);
        if (ec != std::errc() || ptr != p.service.data() + p.service.size() || svc == 0 || svc > 65535)
            return invalid(fmt::format("'{}' is not a port number (1-65535)", p.service), "service");
    }
    for (const auto& e : spec_.ports)
        if (e.transport == p.transport && e.address == p.address && e.service == p.service)
            return make_error(ErrorCode::AlreadyExists,
                              fmt::format("port {} already listens on {}:{}", e.id, p.address, p.service), "address");
    if (p.data_path == DataPath::Kernel) {
        // The kernel listens once a subsystem is linked; persist writes it there.
        ExportSpec next = spec_;
        insert_sorted(next.ports, p, [](const PortSpec& x) { return x.id; });
        TRY(persist(next));
        spec_ = std::move(next);
        log::info("port {} added ({} {}:{}, served by the kernel)", p.id, p.transport, p.address, p.service);
        emit(make_event(EventKind::PortAdded, {}, 0, p.id));
        return p.id;
    }
    {
        // The rules first: nvmfd must not listen where a kernel port will.
        ExportSpec next = spec_;
        insert_sorted(next.ports, p, [](const PortSpec& x) { return x.id; });
        TRY(check_data_paths(next));
    }
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
        return nvmfd::unexpected(started.error());
    }
    if (auto r = persist(spec_); !r) {
        transports_.at(p.transport)->remove_port(p.id);
        live_ports_.erase(p.id);
        target_.disconnect_port(p.id, "port could not be saved");
        back_out();
        return nvmfd::unexpected(r.error());
    }
    emit(make_event(EventKind::PortAdded, {}, 0, p.id));
    return p.id;
}

// A kernel port as the kernel target takes it (an FC address in the
// kernel's spelling, so that duplicates compare equal); an id nvmfd chose
// must not be one the kernel already has (an admin's port).
Result<void> Control::check_kernel_port(PortSpec& p, bool id_chosen_here) {
    plugin::KernelTarget* k;
    {
        auto r = kernel_target();
        if (!r) return nvmfd::unexpected(r.error());
        k = *r;
    }
    ExportSpec one;
    one.ports.push_back(p);
    if (p.transport == "fc") one.ports.back().family = "fc", one.ports.back().service.clear();
    auto checked = k->check_port(kernel_export(one).ports.front());
    if (!checked) return nvmfd::unexpected(checked.error());
    p.address = checked->traddr;
    if (id_chosen_here) {
        auto present = k->objects();
        if (!present) return nvmfd::unexpected(present.error());
        const plugin::KernelScope ours = kernel_objects_of_ours();
        while (find_port(p.id) || (present->ports.count(p.id) && !ours.ports.count(p.id))) {
            if (p.id == UINT16_MAX) return make_error(ErrorCode::Busy, "no free port id", "id");
            ++p.id;
        }
    }
    return {};
}

Result<void> Control::remove_port(uint16_t id, bool force) {
    std::lock_guard lock(mutex_);
    PortSpec* p;
    {
        auto r = need_port(id);
        if (!r) return nvmfd::unexpected(r.error());
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

}  // namespace nvmfd::control
