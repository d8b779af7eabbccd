// A port: where hosts reach the target (transport + address), which
// subsystems it exposes, and the ANA state of each ANA group through it.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string_view>
#include <string>
#include <vector>

#include "core/plugin/transport.hpp"
#include "core/proto/log_pages.hpp"

namespace nvmfd::target {

struct Port {
    plugin::PortConfig config;
    plugin::DiscoveryAddress discovery;  // how discovery log entries describe this port
    std::vector<std::string> subsystems;  // linked subsystem NQNs, sorted
    std::map<uint32_t, proto::AnaState> ana_states;  // group -> state; absent = optimized

    uint16_t id() const { return config.id; }
    bool exposes(const std::string& nqn) const { return std::binary_search(subsystems.begin(), subsystems.end(), nqn); }
    proto::AnaState ana_state(uint32_t group) const {
        auto it = ana_states.find(group);
        return it == ana_states.end() ? proto::AnaState::Optimized : it->second;
    }
};

}  // namespace nvmfd::target
