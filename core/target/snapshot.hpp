// The immutable view of the whole target model that reactors read without
// locks. The control thread builds a new snapshot for every change and
// publishes it (see Target::publish); a reactor swaps its pointer between
// commands, and a queue pair notices by comparing generations.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/target/ana.hpp"
#include "core/target/port.hpp"
#include "core/target/subsystem.hpp"

namespace nvmfd::target {

struct TargetSnapshot {
    uint64_t generation = 0;
    uint64_t discovery_generation = 0;  // bumped when anything in a discovery log changes
    uint64_t ana_change_count = 0;
    std::vector<std::shared_ptr<const Subsystem>> subsystems;  // sorted by NQN
    std::vector<std::shared_ptr<const Port>> ports;            // sorted by id
    std::vector<AnaGroup> ana_groups;                          // sorted by id

    const Subsystem* find_subsystem(const std::string& nqn) const;
    const Port* find_port(uint16_t id) const;
    const AnaGroup* find_ana_group(uint32_t id) const;
};

}  // namespace nvmfd::target
