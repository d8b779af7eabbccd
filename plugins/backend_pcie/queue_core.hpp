// One I/O queue pair's bookkeeping, without VFIO: the rings, the trackers
// and a copy of each outstanding command, so that after a controller reset
// every command the drive never completed is submitted again, in its
// original order, under a new command ID (docs/pcie-design.md 7.3). A
// completion for an ID that is not outstanding (stale, duplicated) is
// dropped and counted, never delivered.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "plugins/backend_pcie/queue_ring.hpp"
#include "plugins/backend_pcie/trackers.hpp"

namespace nvmfd::plugins::pcie {

struct QueueMemory {
    proto::Sqe* sq = nullptr;
    proto::Cqe* cq = nullptr;
    uint16_t entries = 0;  // both rings
    volatile uint32_t* sq_doorbell = nullptr;
    volatile uint32_t* cq_doorbell = nullptr;
};

class QueueCore {
public:
    using Clock = Trackers::Clock;

    // At most entries - 1 commands outstanding: the SQ never refuses what a
    // tracker accepted, and the CQ can always hold every completion.
    explicit QueueCore(const QueueMemory& m);

    uint16_t capacity() const { return trackers_.slots(); }
    size_t outstanding() const { return trackers_.outstanding(); }
    uint64_t stale_completions() const { return stale_; }

    // The slot the next submit() takes: its per-slot memory (the PRP list
    // page) can be filled first.
    std::optional<uint16_t> next_slot() const { return trackers_.next_index(); }
    // Queues `sqe` (its CID is set here) with `cookie`, due by `deadline`;
    // the CID, or nullopt when every slot is taken. The drive hears of it
    // at the next ring().
    std::optional<uint16_t> submit(proto::Sqe sqe, uint64_t cookie, Clock::time_point deadline);
    void ring() { sq_.ring(); }

    // Delivers the completions the drive posted: on_complete(cookie, cqe).
    // Rings the CQ doorbell once at the end. Returns how many were delivered.
    size_t reap(const std::function<void(uint64_t, const proto::Cqe&)>& on_complete);

    std::optional<uint16_t> first_expired(Clock::time_point now) const { return trackers_.first_expired(now); }
    bool mark_aborted(uint16_t cid, Clock::time_point deadline) { return trackers_.mark_aborted(cid, deadline); }
    // The drive is dead: every outstanding command given up (cookies,
    // oldest first). The rings are not touched again until a reset.
    std::vector<uint64_t> release_all() { return trackers_.release_all(); }

    // The controller was reset and this queue pair created again in the same
    // memory: the rings start empty (the CQ zeroed, so nothing posted before
    // the reset is read as new) and every outstanding command is submitted
    // again in its original order under a new ID. Returns how many.
    size_t resubmit_after_reset(Clock::time_point deadline);

private:
    QueueMemory memory_;
    SubmissionQueue sq_;
    CompletionQueue cq_;
    Trackers trackers_;
    std::vector<proto::Sqe> commands_;  // by slot index: what was submitted
    uint64_t stale_ = 0;
};

}  // namespace nvmfd::plugins::pcie
