// Many idle hosts: `count` controllers, each of its own host NQN, connected
// and enabled (admin queue only, no keep-alive timeout), then left alone.
// What a large fleet of quiet initiators costs a target.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "tools/host/controller.hpp"

namespace nvmfd::attack {

struct IdleOptions {
    host::Endpoint target;
    std::string subnqn = "nqn.2026-11.io.nvmfd:default";
    unsigned count = 1000;
    std::string hostnqn_prefix = "nqn.2014-08.io.nvmfd.attack:idle-";
};

class IdleControllers {
public:
    // Connects them one after the other; throws host::Error if one fails.
    explicit IdleControllers(const IdleOptions& options);

    size_t size() const { return controllers_.size(); }
    // Sends a Keep Alive on every controller; how many answered with success.
    size_t alive();
    // How long connecting all of them took.
    std::chrono::duration<double> setup_time() const { return setup_time_; }

private:
    std::vector<host::Controller> controllers_;
    std::chrono::duration<double> setup_time_{};
};

}  // namespace nvmfd::attack
