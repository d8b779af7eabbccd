// A simulated NVMe controller's queue side, for the PCIe backend's unit
// tests: it plays the drive on one queue pair in memory. It takes the
// commands between its SQ head and the SQ doorbell the driver wrote, and
// posts one completion each, with the phase tag of its current pass through
// the CQ, SQHD, and the status the test chose; it never posts into a full
// CQ (it waits for the CQ doorbell, as a drive does).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "core/proto/nvme.hpp"

namespace nvmfd::test {

struct SimQueuePair {
    std::vector<proto::Sqe> sq;
    std::vector<proto::Cqe> cq;
    uint32_t sq_doorbell = 0;  // the driver writes these
    uint32_t cq_doorbell = 0;
    uint16_t sq_head = 0;      // the drive's own state
    uint16_t cq_tail = 0;
    bool phase = true;
    // The status field (bits 1-15 of the CQE's status) for a command; 0: success.
    std::function<uint16_t(const proto::Sqe&)> status_for = [](const proto::Sqe&) { return uint16_t(0); };
    std::vector<uint16_t> taken;  // CIDs in the order the drive took them
    // Commands the drive takes and never completes (a stuck command).
    std::function<bool(const proto::Sqe&)> swallow = [](const proto::Sqe&) { return false; };
    std::vector<proto::Sqe> swallowed;  // what it swallowed, oldest first

    explicit SimQueuePair(uint16_t entries) : sq(entries), cq(entries) {}

    uint16_t entries() const { return uint16_t(sq.size()); }
    bool cq_full() const { return uint16_t((cq_tail + 1) % entries()) == cq_doorbell; }

    // A controller reset: the queues are gone, whatever was in them; the
    // driver creates them again (its doorbells start from 0).
    void reset() {
        sq_head = cq_tail = 0;
        sq_doorbell = cq_doorbell = 0;
        phase = true;
    }

    // Takes up to `max` commands and completes them; returns how many.
    size_t run(size_t max = SIZE_MAX) {
        size_t done = 0;
        while (done < max && sq_head != sq_doorbell && !cq_full()) {
            const proto::Sqe& cmd = sq[sq_head];
            sq_head = uint16_t((sq_head + 1) % entries());
            taken.push_back(cmd.cid);
            if (swallow(cmd)) {
                swallowed.push_back(cmd);
                continue;
            }
            post(cmd, status_for(cmd));
            ++done;
        }
        return done;
    }

    // Posts a completion for `cmd` with status field `status` (e.g. one it
    // swallowed, which an Abort ended: 0x07). False when the CQ is full.
    bool post(const proto::Sqe& cmd, uint16_t status) {
        if (cq_full()) return false;
        proto::Cqe& c = cq[cq_tail];
        c.dw0 = cmd.cdw10;  // echoes something of the command, for the test
        c.sqhd = sq_head;
        c.sqid = 1;
        c.cid = cmd.cid;
        c.status = uint16_t(status << 1 | (phase ? 1 : 0));
        if (++cq_tail == entries()) {
            cq_tail = 0;
            phase = !phase;
        }
        return true;
    }
};

}  // namespace nvmfd::test
