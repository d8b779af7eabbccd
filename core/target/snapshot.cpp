#include "core/target/snapshot.hpp"

#include <algorithm>

namespace nvmfd::target {

const Subsystem* TargetSnapshot::find_subsystem(const std::string& nqn) const {
    auto it = std::lower_bound(subsystems.begin(), subsystems.end(), nqn,
                               [](const auto& s, const std::string& n) { return s->nqn < n; });
    return (it != subsystems.end() && (*it)->nqn == nqn) ? it->get() : nullptr;
}

const Port* TargetSnapshot::find_port(uint16_t id) const {
    for (const auto& p : ports)
        if (p->id() == id) return p.get();
    return nullptr;
}

const AnaGroup* TargetSnapshot::find_ana_group(uint32_t id) const {
    for (const auto& g : ana_groups)
        if (g.id == id) return &g;
    return nullptr;
}

}  // namespace nvmfd::target
