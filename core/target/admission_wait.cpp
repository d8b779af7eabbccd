#include "core/target/admission_wait.hpp"

namespace nvmfd::target {

AdmissionWait::~AdmissionWait() { cancel(); }

void AdmissionWait::park(Parked parked, AdmissionHook& hook, AdmissionQuery query,
                         std::chrono::milliseconds timeout, Resume resume) {
    parked_ = std::move(parked);
    resume_ = resume;
    token_ = std::make_shared<Token>();
    std::weak_ptr<Token> issued = token_;
    // The timer and the answer both hold the token weakly: whichever comes
    // first finishes the wait and drops the token; the other then finds it
    // expired. Both run on this reactor, so the check cannot race.
    timer_ = reactor_.add_timer(timeout, [this, issued] {
        if (issued.expired()) return;
        timer_ = 0;
        finish(AdmissionVerdict{}, true);
    });
    runtime::Reactor* reactor = &reactor_;
    hook.ask(std::move(query), [reactor, issued, this](AdmissionVerdict verdict) {
        reactor->post([issued, this, verdict = std::move(verdict)] {
            if (issued.expired()) return;  // closed, timed out, or a later wait's
            finish(verdict, false);
        });
    });
}

void AdmissionWait::finish(const AdmissionVerdict& verdict, bool timed_out) {
    if (timer_) reactor_.cancel_timer(timer_);
    timer_ = 0;
    token_.reset();
    Parked parked = std::move(*parked_);
    parked_.reset();
    resume_(parked, verdict, timed_out);
}

std::optional<AdmissionWait::Parked> AdmissionWait::cancel() {
    if (timer_) reactor_.cancel_timer(timer_);
    timer_ = 0;
    token_.reset();
    std::optional<Parked> out = std::move(parked_);
    parked_.reset();
    return out;
}

}  // namespace nvmfd::target
