// Discovery: connect to the discovery controller and read its log page
// (LID 70h): the header first, then every record, then the header again to
// make sure the log did not change underneath.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "tools/host/controller.hpp"
#include "tools/host/parse.hpp"

namespace nvmfd::host {

struct DiscoveryLog {
    uint64_t generation = 0;
    std::vector<DiscoveryEntry> entries;
};

DiscoveryLog read_discovery_log(Controller& discovery_controller);
// Connects to the well-known discovery NQN (options.subnqn is ignored).
DiscoveryLog discover(const Endpoint& endpoint, ControllerOptions options = {});

// The first entry that is an NVM subsystem (not a referral or discovery controller).
std::optional<DiscoveryEntry> first_nvm_subsystem(const DiscoveryLog& log);
std::string describe(const DiscoveryEntry& entry);

}  // namespace nvmfd::host
