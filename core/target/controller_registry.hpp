// All live controllers, by subsystem and controller ID. Touched on Connect,
// teardown and management queries; never on the I/O path.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/target/controller.hpp"

namespace nvmfd::target {

class ControllerRegistry {
public:
    // Reserve a controller ID for a new controller of `subnqn` (1..0xFFEF),
    // or 0 when all are in use.
    uint16_t reserve_id(const std::string& subnqn);
    void add(const std::shared_ptr<Controller>& ctrl);
    void remove(const Controller& ctrl);
    std::shared_ptr<Controller> find(const std::string& subnqn, uint16_t cntlid) const;
    std::vector<std::shared_ptr<Controller>> all() const;
    std::vector<std::shared_ptr<Controller>> of_subsystem(const std::string& subnqn) const;
    size_t count_for_subsystem(const std::string& subnqn) const;

    static constexpr uint16_t kMaxCntlid = 0xffef;

private:
    struct PerSubsystem {
        std::map<uint16_t, std::weak_ptr<Controller>> controllers;
        uint16_t next_id = 1;
    };
    mutable std::mutex mutex_;
    std::map<std::string, PerSubsystem> subsystems_;
};

}  // namespace nvmfd::target
