// Timeouts, Abort and controller reset (issue 13, acceptance 3): a stuck
// command is aborted, then the controller reset; every outstanding command
// is submitted again in its order under a new ID and completes exactly
// once; completions from before the reset are never delivered; resets are
// bounded and then the drive is dead.
#include <doctest/doctest.h>

#include <map>

#include "plugins/backend_pcie/queue_core.hpp"
#include "plugins/backend_pcie/recovery.hpp"
#include "tests/backend_pcie/sim_controller.hpp"

using namespace nvmfd::plugins::pcie;
using nvmfd::test::SimQueuePair;
using namespace std::chrono_literals;
namespace proto = nvmfd::proto;

namespace {

const Recovery::Clock::time_point t0{};

struct Rig {
    SimQueuePair dev{8};
    QueueCore q{QueueMemory{dev.sq.data(), dev.cq.data(), 8, &dev.sq_doorbell, &dev.cq_doorbell}};
    std::map<uint64_t, int> delivered;  // cookie -> times
    std::vector<uint64_t> order;

    void submit(uint64_t cookie, Recovery::Clock::time_point deadline) {
        proto::Sqe s{};
        s.opcode = 0x01;
        s.cdw10 = uint32_t(cookie);  // the drive echoes it in DW0
        REQUIRE(q.submit(s, cookie, deadline));
    }
    size_t reap() {
        return q.reap([&](uint64_t cookie, const proto::Cqe& c) {
            CHECK(c.dw0 == uint32_t(cookie));  // the completion is for this command's data
            ++delivered[cookie];
            order.push_back(cookie);
        });
    }
};

}  // namespace

TEST_CASE("recovery: a stuck command is aborted, then the controller reset; every command completes exactly once") {
    Rig r;
    Recovery rec({3, 2, 1});
    r.dev.swallow = [](const proto::Sqe& s) { return s.cdw10 == 2; };  // command 2 sticks in the drive
    for (uint64_t c = 1; c <= 5; ++c) r.submit(c, t0 + 10s);
    r.q.ring();
    r.dev.run(2);  // 1 and 3 completed (2 taken and stuck)...
    CHECK(r.reap() == 2);
    r.dev.run();   // 4 and 5 completed but not yet reaped when the reset comes
    CHECK_FALSE(r.q.first_expired(t0 + 5s));
    auto stuck = r.q.first_expired(t0 + 11s);
    REQUIRE(stuck);
    CHECK(rec.on_expired(false, 0, t0 + 11s) == Recovery::Action::Abort);
    // The drive says it did not abort it: reset.
    CHECK(rec.on_abort_answer(1, t0 + 12s) == Recovery::Action::Reset);
    r.dev.reset();
    r.dev.swallow = [](const proto::Sqe&) { return false; };
    CHECK(r.q.resubmit_after_reset(t0 + 30s) == 3);  // 2, 4, 5: the drive's completions of 4 and 5 were never seen
    CHECK(rec.on_reset_done(true, t0 + 13s) == Recovery::Action::None);
    r.dev.run();
    r.reap();
    CHECK(r.q.outstanding() == 0);
    for (uint64_t c = 1; c <= 5; ++c) CHECK_MESSAGE(r.delivered[c] == 1, "command " << c);
    CHECK(r.order == std::vector<uint64_t>{1, 3, 2, 4, 5});  // resubmitted in their original order
    // Nothing from before the reset was even read (the CQ starts clean), and
    // the rings stay in step with the drive: the next command completes.
    CHECK(r.q.stale_completions() == 0);
    r.submit(6, t0 + 40s);
    r.q.ring();
    r.dev.run();
    r.reap();
    CHECK(r.delivered[6] == 1);
    // The drive took 4 and 5 twice (before and after the reset, under new IDs): harmless, no
    // host saw either complete. 2 was taken twice too.
    CHECK(r.dev.taken.size() == 9);  // 1-5, then 2, 4, 5 again, then 6
}

TEST_CASE("recovery: a duplicated or stale completion is dropped, not delivered") {
    Rig r;
    r.submit(7, t0 + 10s);
    r.q.ring();
    r.dev.run();
    // The drive posts the same completion twice (a buggy or racing abort).
    r.dev.cq[1] = r.dev.cq[0];
    r.dev.cq_tail = 2;
    CHECK(r.reap() == 1);
    CHECK(r.q.stale_completions() == 1);
    CHECK(r.delivered[7] == 1);
}

TEST_CASE("recovery: a second expiry or too many aborts reset; resets are bounded, then the drive is dead") {
    Recovery rec({3, 2, 1});
    CHECK(rec.on_expired(false, 0, t0) == Recovery::Action::Abort);
    CHECK(rec.on_expired(false, 1, t0) == Recovery::Action::Reset);  // the abort limit is 1
    CHECK(rec.on_abort_answer(0, t0) == Recovery::Action::None);     // aborted: status_map retries it
    CHECK(rec.on_expired(true, 0, t0 + 1s) == Recovery::Action::Reset);
    CHECK(rec.on_expired(true, 0, t0 + 2s) == Recovery::Action::Dead);  // a third reset within a minute
    CHECK(rec.dead());
    CHECK(rec.on_reset_done(true, t0 + 3s) == Recovery::Action::Dead);
    Recovery slow({3, 2, 1});
    CHECK(slow.on_reset_done(false, t0) == Recovery::Action::Reset);
    CHECK(slow.on_reset_done(false, t0 + 61s) == Recovery::Action::Reset);  // the first is older than a minute
    CHECK(slow.on_reset_done(false, t0 + 62s) == Recovery::Action::Reset);
    CHECK(slow.on_reset_done(false, t0 + 63s) == Recovery::Action::Dead);   // two within the minute already
    CHECK(slow.may_retry(2));
    CHECK_FALSE(slow.may_retry(3));
}
