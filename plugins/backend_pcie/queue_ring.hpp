// An NVMe submission and completion queue pair as the host side of the PCIe
// transport drives it (NVMe base spec, "Queue Mechanism"): the driver writes
// 64-byte entries at the SQ tail and tells the drive the new tail through
// the SQ's doorbell, once per batch; the drive posts 16-byte entries in the
// CQ, each with a phase tag that flips on every pass through the ring, so
// the driver knows a new entry by its phase alone, and returns the CQ head
// through the CQ's doorbell once per batch. The SQ head comes back in each
// completion (SQHD). One slot of each ring always stays empty.
//
// The rings are memory the drive reaches by DMA; the doorbells are BAR0
// registers (or, in tests, plain memory a simulated controller reads).
#pragma once

#include <atomic>
#include <cstdint>

#include "core/proto/nvme.hpp"

namespace nvmfd::plugins::pcie {

class SubmissionQueue {
public:
    SubmissionQueue(proto::Sqe* ring, uint16_t entries, volatile uint32_t* doorbell)
        : ring_(ring), entries_(entries), doorbell_(doorbell) {}

    uint16_t entries() const { return entries_; }
    uint16_t tail() const { return tail_; }
    uint16_t head() const { return head_; }
    // Entries that can be added before the drive takes some.
    uint16_t free_slots() const { return uint16_t(entries_ - 1 - used()); }
    bool full() const { return free_slots() == 0; }

    // Copies `sqe` at the tail (the caller checked full()).
    void push(const proto::Sqe& sqe) {
        ring_[tail_] = sqe;
        tail_ = next(tail_);
    }
    // Tells the drive about what push() added since the last ring.
    void ring() {
        if (tail_ == rung_) return;
        // The entries must be in memory before the drive hears of them.
        std::atomic_thread_fence(std::memory_order_release);
        *doorbell_ = tail_;
        rung_ = tail_;
    }
    // SQHD of a completion: the drive has taken everything before it.
    void head_moved(uint16_t sqhd) {
        if (sqhd < entries_) head_ = sqhd;
    }
    // The queue was created again (after a controller reset): empty.
    void restart() { tail_ = rung_ = head_ = 0; }

private:
    uint16_t used() const { return uint16_t((tail_ + entries_ - head_) % entries_); }
    uint16_t next(uint16_t i) const { return uint16_t(i + 1 == entries_ ? 0 : i + 1); }

    proto::Sqe* ring_;
    uint16_t entries_;
    volatile uint32_t* doorbell_;
    uint16_t tail_ = 0;
    uint16_t rung_ = 0;
    uint16_t head_ = 0;
};

class CompletionQueue {
public:
    CompletionQueue(const proto::Cqe* ring, uint16_t entries, volatile uint32_t* doorbell)
        : ring_(ring), entries_(entries), doorbell_(doorbell) {}

    uint16_t entries() const { return entries_; }
    uint16_t head() const { return head_; }
    bool phase() const { return phase_; }

    // The next entry the drive posted, or nullptr. The phase tag is read
    // first; the rest of the entry only after it (the drive writes the
    // whole entry, phase included, and the tag tells it is complete).
    const proto::Cqe* peek() const {
        const volatile uint16_t* status = &ring_[head_].status;
        if (bool(*status & 1) != phase_) return nullptr;
        std::atomic_thread_fence(std::memory_order_acquire);
        return &ring_[head_];
    }
    void pop() {
        if (++head_ == entries_) {
            head_ = 0;
            phase_ = !phase_;
        }
    }
    // The queue was created again (after a controller reset; its memory
    // zeroed by the owner): empty, first pass.
    void restart() {
        head_ = rung_ = 0;
        phase_ = rung_phase_ = true;
    }
    // Gives the drive back the entries popped since the last ring.
    void ring() {
        if (head_ == rung_ && phase_ == rung_phase_) return;
        *doorbell_ = head_;
        rung_ = head_;
        rung_phase_ = phase_;
    }

private:
    const proto::Cqe* ring_;
    uint16_t entries_;
    volatile uint32_t* doorbell_;
    uint16_t head_ = 0;
    bool phase_ = true;  // the drive's first pass writes phase 1 over zeroed memory
    uint16_t rung_ = 0;
    bool rung_phase_ = true;
};

}  // namespace nvmfd::plugins::pcie
