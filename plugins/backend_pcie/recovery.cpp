#include "plugins/backend_pcie/recovery.hpp"

namespace nvmfd::plugins::pcie {

Recovery::Action Recovery::reset(Clock::time_point now) {
    if (dead_) return Action::Dead;
    while (!resets_.empty() && now - resets_.front() >= std::chrono::minutes(1)) resets_.pop_front();
    if (resets_.size() >= limits_.resets_per_minute) {
        dead_ = true;
        return Action::Dead;
    }
    resets_.push_back(now);
    return Action::Reset;
}

Recovery::Action Recovery::on_expired(bool aborted_before, unsigned aborts_outstanding, Clock::time_point now) {
    if (dead_) return Action::Dead;
    if (aborted_before || aborts_outstanding >= limits_.abort_limit) return reset(now);
    return Action::Abort;
}

Recovery::Action Recovery::on_abort_answer(uint32_t dw0, Clock::time_point now) {
    if (dead_) return Action::Dead;
    // Aborted: the command completes with Command Abort Requested and is
    // resubmitted (status_map); not aborted: it is stuck in the drive.
    return (dw0 & 1) ? reset(now) : Action::None;
}

Recovery::Action Recovery::on_reset_done(bool ok, Clock::time_point now) {
    if (dead_) return Action::Dead;
    return ok ? Action::None : reset(now);
}

}  // namespace nvmfd::plugins::pcie
