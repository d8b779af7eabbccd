// All live controllers, by subsystem and controller ID. Touched on Connect,
// teardown and management queries; never on the I/O path. It also enforces
// how many controllers the target and each host may have, which bounds the
// memory their queues can hold.
#pragma once

#include <expected>
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
    // Per host NQN in one subsystem: one host cannot take a subsystem's
    // controller IDs (a gateway group's range may be small) from the others.
    size_t max_controllers_per_host_subsystem = 128;
    // I/O queues granted to one host NQN over all its controllers (Number
    // of Queues): a host gets fewer queues, not a failed Connect.
    size_t max_io_queues_per_host = 4096;
};

// What Set Features Number of Queues may grant a controller.
struct IoQueueGrant {
    uint32_t granted;
    bool limited;  // fewer than asked because of max-io-queues-per-host
};

class ControllerRegistry {
public:
    explicit ControllerRegistry(ControllerLimits limits = {}) : limits_(limits) {}

    // Reserve a controller ID in [min_id, max_id] (the subsystem's range,
    // at most 1..0xFFEF) for a new controller of `hostnqn` in `subnqn`, or
    // say why not (a limit, or every ID in the range in use). The
    // reservation counts against the limits until remove(); for an I/O
    // subsystem it holds one I/O queue of the host's budget.
    nvmfd::expected<uint16_t, std::string> reserve_id(const std::string& subnqn, const std::string& hostnqn,
                                                    uint16_t min_id = 1, uint16_t max_id = kMaxCntlid);
    // The controller of a reservation; its default Number of Queues is cut
    // to what the host's I/O queue budget has left (at least the one held).
    void add(const std::shared_ptr<Controller>& ctrl);
    // Set Features Number of Queues: up to `wanted` (already within
    // max-io-queues), at most what the host's budget has left, at least 1.
    IoQueueGrant grant_io_queues(const Controller& ctrl, uint32_t wanted);
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
        uint32_t io_queues = 0;                // granted, counted in io_per_host_ (0: discovery)
        bool live() const { return reserved || !controller.expired(); }
    };
    struct PerSubsystem {
        std::map<uint16_t, Entry> controllers;
        std::map<std::string, size_t> per_host;  // live entries by host NQN
        uint16_t next_id = 1;
    };
    // An entry stops counting (removed, released, or found dead).
    void uncount(PerSubsystem& s, const Entry& e);
    size_t io_queues_of(const std::string& hostnqn) const;
    IoQueueGrant grant_locked(Entry& e, uint32_t wanted);
    const ControllerLimits limits_;
    mutable std::mutex mutex_;
    std::map<std::string, PerSubsystem> subsystems_;
    size_t live_ = 0;                         // entries, reserved or added, not yet removed
    std::map<std::string, size_t> per_host_;  // the same, by host NQN
    std::map<std::string, size_t> io_per_host_;  // I/O queues granted, by host NQN
};

}  // namespace nvmfd::target
