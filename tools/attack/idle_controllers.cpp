#include "tools/attack/idle_controllers.hpp"

#include "tools/host/errors.hpp"

namespace nvmfd::attack {

IdleControllers::IdleControllers(const IdleOptions& options) {
    auto start = std::chrono::steady_clock::now();
    controllers_.reserve(options.count);
    for (unsigned i = 0; i < options.count; ++i) {
        host::ControllerOptions o;
        o.subnqn = options.subnqn;
        o.host.hostnqn = options.hostnqn_prefix + std::to_string(i);
        o.host.hostid = {0x1d, uint8_t(i), uint8_t(i >> 8)};
        o.queue.receive_buffer_size = 16 * 1024;  // our side of 1,000 hosts in one process: not 256 KiB each
        controllers_.push_back(host::Controller::connect(options.target, o));
    }
    setup_time_ = std::chrono::steady_clock::now() - start;
}

size_t IdleControllers::alive() {
    size_t ok = 0;
    for (auto& c : controllers_) {
        try {
            ok += c.keep_alive().ok();
        } catch (const host::Error&) {
        }
    }
    return ok;
}

}  // namespace nvmfd::attack
