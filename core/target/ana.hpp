// Asymmetric Namespace Access: groups of namespaces whose access state is
// set per port. Hosts read the states from the ANA log page and are told of
// changes with an asynchronous event.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "core/proto/log_pages.hpp"

namespace nvmfd::target {

struct AnaGroup {
    uint32_t id = 1;
    uint64_t change_count = 0;  // bumped whenever a state of this group changes on any port
};

inline constexpr uint32_t kDefaultAnaGroup = 1;
inline constexpr uint32_t kMaxAnaGroups = 128;  // ANAGRPMAX

const char* ana_state_name(proto::AnaState s);
std::optional<proto::AnaState> parse_ana_state(std::string_view s);

// States in which the namespace can serve I/O through the port.
constexpr bool ana_state_accessible(proto::AnaState s) {
    return s == proto::AnaState::Optimized || s == proto::AnaState::NonOptimized;
}

}  // namespace nvmfd::target
