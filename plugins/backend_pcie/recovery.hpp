// What to do when a drive does not answer (docs/pcie-design.md 7.3): a
// command past its deadline gets one Abort; a second expiry, an Abort the
// drive says it did not carry out, or too many Aborts at once reset the
// controller; resets are bounded (a drive that needs more is dead, and its
// commands fail with a status that sends multipath hosts elsewhere). Pure
// decisions; the queue pairs and the monitor thread carry them out.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>

namespace nvmfd::plugins::pcie {

struct RecoveryLimits {
    unsigned retries_per_command = 3;  // resubmissions after our own aborts and resets
    unsigned resets_per_minute = 2;
    unsigned abort_limit = 1;          // concurrent Aborts the drive takes (Identify ACL + 1)
};

class Recovery {
public:
    using Clock = std::chrono::steady_clock;
    enum class Action { None, Abort, Reset, Dead };

    explicit Recovery(RecoveryLimits limits) : limits_(limits) {}

    // A command is past its deadline. `aborted_before`: an Abort was sent
    // for it already; `aborts_outstanding`: Aborts not yet answered.
    Action on_expired(bool aborted_before, unsigned aborts_outstanding, Clock::time_point now);
    // The drive answered an Abort; DW0 bit 0 set means it did not abort the command.
    Action on_abort_answer(uint32_t dw0, Clock::time_point now);
    // A reset (disable, enable, queues created again) finished or failed.
    Action on_reset_done(bool ok, Clock::time_point now);

    bool may_retry(unsigned retries_so_far) const { return retries_so_far < limits_.retries_per_command; }
    bool dead() const { return dead_; }

private:
    Action reset(Clock::time_point now);

    RecoveryLimits limits_;
    std::deque<Clock::time_point> resets_;  // within the last minute
    bool dead_ = false;
};

}  // namespace nvmfd::plugins::pcie
