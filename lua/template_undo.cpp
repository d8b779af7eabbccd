#include "lua/template_undo.hpp"

#include <algorithm>
#include <fmt/format.h>

#include "core/target/ana.hpp"

namespace nvmfd::lua {
namespace {

using control::ExportSpec;
using control::PortSpec;
using control::SubsystemSpec;

const SubsystemSpec* find_subsystem(const ExportSpec& spec, const std::string& nqn) {
    for (const auto& s : spec.subsystems)
        if (s.nqn == nqn) return &s;
    return nullptr;
}

const PortSpec* find_port(const ExportSpec& spec, uint16_t id) {
    for (const auto& p : spec.ports)
        if (p.id == id) return &p;
    return nullptr;
}

bool has_nsid(const SubsystemSpec& s, uint32_t nsid) {
    return std::any_of(s.namespaces.begin(), s.namespaces.end(), [&](const auto& n) { return n.nsid == nsid; });
}

bool has(const std::vector<std::string>& v, const std::string& x) { return std::find(v.begin(), v.end(), x) != v.end(); }

proto::AnaState state_of(const PortSpec& p, uint32_t group) {
    auto it = p.ana_states.find(group);
    return it == p.ana_states.end() ? proto::AnaState::Optimized : it->second;
}

// Notes how each reversing call went.
struct Undo {
    void step(const std::string& what, const Result<void>& r) {
        if (r) report.undone.push_back(what);
        else report.left.push_back(fmt::format("could not undo: {} ({})", what, r.error().describe()));
    }
    UndoReport report;
};

}  // namespace

UndoReport undo_changes(control::Control& control, const ExportSpec& before) {
    const ExportSpec after = control.export_spec();
    Undo u;
    // Links and ANA states on ports that were there before.
    for (const auto& p : after.ports) {
        const PortSpec* old = find_port(before, p.id);
        if (!old) continue;
        for (const auto& nqn : p.subsystems)
            if (!has(old->subsystems, nqn) && find_subsystem(before, nqn))
                u.step(fmt::format("unlinked {} from port {}", nqn, p.id), control.unlink_subsystem(p.id, nqn, true));
        for (const auto& nqn : old->subsystems)
            if (!has(p.subsystems, nqn) && find_subsystem(after, nqn))
                u.step(fmt::format("linked {} to port {} again", nqn, p.id), control.link_subsystem(p.id, nqn));
        for (uint32_t g : before.ana_groups)
            if (state_of(p, g) != state_of(*old, g))
                u.step(fmt::format("set ANA group {} on port {} back to {}", g, p.id,
                                   target::ana_state_name(state_of(*old, g))),
                       control.set_ana_state(p.id, g, state_of(*old, g)));
    }
    // Namespaces and hosts of subsystems that were there before.
    for (const auto& s : after.subsystems) {
        const SubsystemSpec* old = find_subsystem(before, s.nqn);
        if (!old) continue;
        for (const auto& n : s.namespaces)
            if (!has_nsid(*old, n.nsid))
                u.step(fmt::format("removed namespace {} of {}", n.nsid, s.nqn), control.remove_namespace(s.nqn, n.nsid));
        for (const auto& h : s.hosts)
            if (!has(old->hosts, h))
                u.step(fmt::format("disallowed {} on {}", h, s.nqn), control.disallow_host(s.nqn, h));
        for (const auto& h : old->hosts)
            if (!has(s.hosts, h)) u.step(fmt::format("allowed {} on {} again", h, s.nqn), control.allow_host(s.nqn, h));
        for (const auto& n : old->namespaces)
            if (!has_nsid(s, n.nsid))
                u.report.left.push_back(fmt::format("namespace {} of {} was removed and cannot be brought back", n.nsid,
                                                    s.nqn));
    }
    // Whole subsystems and ports it added (with what they hold), then its ANA groups.
    for (const auto& s : after.subsystems)
        if (!find_subsystem(before, s.nqn))
            u.step(fmt::format("removed subsystem {}", s.nqn), control.remove_subsystem(s.nqn, true));
    for (const auto& s : before.subsystems)
        if (!find_subsystem(after, s.nqn))
            u.report.left.push_back(fmt::format("subsystem {} was removed and cannot be brought back", s.nqn));
    for (const auto& p : after.ports)
        if (!find_port(before, p.id)) u.step(fmt::format("removed port {}", p.id), control.remove_port(p.id, true));
    for (uint32_t g : after.ana_groups)
        if (std::find(before.ana_groups.begin(), before.ana_groups.end(), g) == before.ana_groups.end())
            u.step(fmt::format("removed ANA group {}", g), control.remove_ana_group(g));
    return u.report;
}

}  // namespace nvmfd::lua
