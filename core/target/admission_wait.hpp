// One queue pair's Connect parked while an admission hook decides. The
// request stays in its slot (executing); the hook's answer comes back as a
// message to the owning reactor, or the timeout fires first and the static
// decision stands. Reactor thread only.
//
// The answer may arrive after the connection closed: it finds the token it
// was issued for gone (cancel() or the destructor dropped it) and does
// nothing, so nothing it captured points at a freed queue pair.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "core/plugin/request.hpp"
#include "core/runtime/reactor.hpp"
#include "core/target/admission.hpp"

namespace nvmfd::target {

class AdmissionWait {
public:
    // What a parked Connect holds besides its request slot.
    struct Parked {
        plugin::Request* req = nullptr;
        uint16_t cntlid = 0;    // reserved in the controller registry
        std::string subnqn;     // whose registry entry that is
        std::string hostnqn;    // for the timeout's log line
    };
    // Runs once per park(), on the reactor, with the answer or the timeout's
    // verdict (allow; timed_out true).
    using Resume = void (*)(const Parked& parked, const AdmissionVerdict& verdict, bool timed_out);

    explicit AdmissionWait(runtime::Reactor& reactor) : reactor_(reactor) {}
    ~AdmissionWait();
    AdmissionWait(const AdmissionWait&) = delete;
    AdmissionWait& operator=(const AdmissionWait&) = delete;

    bool pending() const { return parked_.has_value(); }
    void park(Parked parked, AdmissionHook& hook, AdmissionQuery query, std::chrono::milliseconds timeout,
              Resume resume);
    // The connection is closing: forget the wait (a late answer is dropped)
    // and hand back the parked Connect for the caller to complete.
    std::optional<Parked> cancel();

private:
    struct Token {};
    void finish(const AdmissionVerdict& verdict, bool timed_out);

    runtime::Reactor& reactor_;
    std::optional<Parked> parked_;
    std::shared_ptr<Token> token_;
    runtime::Reactor::TimerId timer_ = 0;
    Resume resume_ = nullptr;
};

}  // namespace nvmfd::target
