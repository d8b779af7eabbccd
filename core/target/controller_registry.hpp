// All live controllers, by subsystem and controller ID. Touched on Connect,
// teardown and management queries; never on the I/O path. It also enforces
// how many controllers the target and each host may have, which bounds the
// memory their queues can hold.
#pragma once

#include "core/runtime/expected.hpp"
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/target/controller.hpp"

namespace nvmfd::target {

struct ControllerLimits {
    size_t max_controllers = 4096;           // in the whole target, discovery controllers included
    size_t max_controllers_per_host = 512;   // per host NQN
};

class ControllerRegistry {
public:
    explicit ControllerRegistry(ControllerLimits limits = {}) : limits_(limits) {}

    // Reserve a controller ID in [min_id, max_id] (the subsystem's range,
    // at most 1..0xFFEF) for a new controller of `hostnqn` in `subnqn`, or
    // say why not (a limit, or every ID in the range in use). The
    // reservation counts against the limits until remove().
    nvmfd::expected<uint16_t, std::string> reserve_id(const std::string& subnqn, const std::string& hostnqn,
                                                    uint16_t min_id = 1, uint16_t max_id = kMaxCntlid);
    void add(const std::shared_ptr<Controller>& ctrl);
    // Give back an ID reserved for a controller that was never added (its
    // Connect was refused or abandoned after the reservation).
    void release_reservation(const std::string& subnqn, uint16_t cntlid);
    void remove(const Controller& ctrl);
    std::shared_ptr<Controller> find(const std::string& subnqn, uint16_t cntlid) const;
    std::vector<std::shared_ptr<Controller>> all() const;
    std::vector<std::shared_ptr<Controller>> of_subsystem(const std::string& subnqn) const;
    size_t count_for_subsystem(const std::string& subnqn) const;

    static constexpr uint16_t kMaxCntlid = 0xffef;

private:
    struct Entry {
        std::weak_ptr<Controller> controller;  // empty while only reserved
        std::string hostnqn;
        bool reserved = true;                  // until add(): a reserved ID is taken
        bool live() const { return reserved || !controller.expired(); }
    };
    struct PerSubsystem {
        std::map<uint16_t, Entry> controllers;
        uint16_t next_id = 1;
    };
    const ControllerLimits limits_;
    mutable std::mutex mutex_;
    std::map<std::string, PerSubsystem> subsystems_;
    size_t live_ = 0;                         // entries, reserved or added, not yet removed
    std::map<std::string, size_t> per_host_;  // the same, by host NQN
};

}  // namespace nvmfd::target
