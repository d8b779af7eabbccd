// The commands a queue pair has outstanding at the drive (one tracker per
// command slot, allocated once): which slot a completion is for, when each
// command's time is up, and the order they were submitted in (after a
// controller reset, the commands whose completion never came are submitted
// again in that order: their hosts have seen no completion, so redoing them
// loses nothing).
//
// A command ID carries the slot's index (12 bits) and a generation (4 bits)
// that changes each time the slot is reused, so a late or duplicated
// completion of an earlier command in the same slot (an abort racing the
// command's own completion) is recognised as stale and dropped instead of
// completing the new command. After a controller reset the drive has
// dropped its queues, so nothing older can arrive. CID FFFFh, which the
// spec keeps for "no command", is never handed out.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

namespace nvmfd::plugins::pcie {

class Trackers {
public:
    using Clock = std::chrono::steady_clock;

    // At most 4095 slots (so that no ID is FFFFh).
    explicit Trackers(uint16_t slots);

    uint16_t slots() const { return uint16_t(slots_.size()); }
    size_t outstanding() const { return busy_; }
    bool full() const { return free_.empty(); }

    // The slot index the next take() will use (for memory owned per slot,
    // such as its PRP list page); nullopt when full.
    std::optional<uint16_t> next_index() const {
        if (free_.empty()) return std::nullopt;
        return free_.back();
    }
    // A slot for a command carrying `cookie` (the caller's: which request,
    // which piece), due by `deadline`; its command ID. nullopt when full.
    std::optional<uint16_t> take(uint64_t cookie, Clock::time_point deadline);
    // The cookie of the command `cid` completed; nullopt for an ID that is
    // not outstanding (stale generation, free slot, out of range).
    std::optional<uint64_t> complete(uint16_t cid);
    // The oldest submitted command whose deadline has passed.
    std::optional<uint16_t> first_expired(Clock::time_point now) const;
    // An Abort was sent for `cid`: it is due again by `deadline`. Returns
    // whether one had been sent for it before (then it is the drive that
    // is stuck, not the command); false too for an ID not outstanding.
    bool mark_aborted(uint16_t cid, Clock::time_point deadline);
    // Every outstanding command ID, oldest submission first.
    std::vector<uint16_t> in_submission_order() const;
    // Gives every outstanding command up (the drive is dead): their
    // cookies, oldest submission first; every slot is free afterwards.
    std::vector<uint64_t> release_all();
    // After a reset: the same commands under new IDs (a new generation, so
    // that anything the drive still posts for the old IDs is stale), in
    // submission order, with new deadlines. Returns (old, new) pairs.
    std::vector<std::pair<uint16_t, uint16_t>> renumber(Clock::time_point deadline);

private:
    struct Slot {
        uint64_t cookie = 0;
        Clock::time_point deadline{};
        uint64_t order = 0;  // submission sequence number
        uint8_t generation = 0;
        bool busy = false;
        bool aborted = false;  // an Abort was sent for it
    };
    static uint16_t cid_of(uint16_t index, uint8_t generation) { return uint16_t(generation << 12 | index); }

    std::vector<Slot> slots_;
    std::vector<uint16_t> free_;  // stack of free indices
    size_t busy_ = 0;
    uint64_t next_order_ = 0;
};

}  // namespace nvmfd::plugins::pcie
