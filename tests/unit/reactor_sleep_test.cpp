// Poller::before_sleep: the reactor asks its pollers to arm their wakeups
// only when it is about to block in epoll_wait (never while it keeps
// polling), and a poller that found work meanwhile keeps it awake. An RDMA
// transport arms its completion queues there (docs/architecture.md).
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "core/runtime/reactor.hpp"

using namespace nvmfd::runtime;
using namespace std::chrono_literals;

namespace {

// Records the order of its calls ('P' poll, 'S' before_sleep), read once
// the reactor has stopped; counts are atomics for waiting meanwhile.
struct RecordingPoller final : Poller {
    int busy_polls = 0;    // the first polls that report work
    int awake_sleeps = 0;  // the first before_sleep calls that report work
    std::string trace;
    std::atomic<int> polls{0}, sleeps{0};
    Clock::time_point first_sleep, last_sleep;

    bool poll() override {
        trace += 'P';
        return polls.fetch_add(1) < busy_polls;
    }
    bool before_sleep() override {
        trace += 'S';
        last_sleep = Clock::now();
        if (sleeps.load() == 0) first_sleep = last_sleep;
        return sleeps.fetch_add(1) < awake_sleeps;
    }
};

bool wait_until(const std::function<bool()>& done, Clock::duration limit) {
    auto deadline = Clock::now() + limit;
    while (!done()) {
        if (Clock::now() > deadline) return false;
        std::this_thread::sleep_for(1ms);
    }
    return true;
}

// The poller is added by a message, so its first poll is in the turn that
// message woke; stop() ends the loop and join() makes the trace safe to read.
void attach(Reactor& r, RecordingPoller& p) {
    r.post([&] { r.add_poller(p); });
}

void finish(Reactor& r, RecordingPoller& p) {
    r.post([&] { r.remove_poller(p); });
    r.stop();
    r.join();
}

}  // namespace

TEST_CASE("before_sleep is called only once the pollers are idle, right before blocking") {
    RecordingPoller p;  // outlives the reactor, even when a REQUIRE throws
    Reactor r(0, ReactorOptions{.buffer_pool_bytes = 1u << 20});
    r.start();
    p.busy_polls = 5;
    attach(r, p);
    REQUIRE(wait_until([&] { return p.sleeps.load() >= 1; }, 2s));
    std::this_thread::sleep_for(20ms);  // the reactor now blocks: nothing more may happen
    finish(r, p);
    // Five busy polls keep it spinning with no call; the first idle poll
    // lets it sleep, and it is asked once; then it blocks.
    CHECK(p.trace == "PPPPPPS");
}

TEST_CASE("a before_sleep that reports work keeps the reactor from blocking") {
    RecordingPoller p;  // outlives the reactor, even when a REQUIRE throws
    Reactor r(0, ReactorOptions{.buffer_pool_bytes = 1u << 20});
    r.start();
    p.awake_sleeps = 3;
    attach(r, p);
    // An idle reactor with no timers blocks for a second at a time: had the
    // three "work appeared" answers been ignored, this would take 3 s.
    REQUIRE(wait_until([&] { return p.sleeps.load() >= 4; }, 2s));
    std::this_thread::sleep_for(20ms);
    finish(r, p);
    CHECK(p.trace == "PSPSPSPS");  // each "work appeared" costs one more turn, then it sleeps
    CHECK(p.last_sleep - p.first_sleep < 500ms);
}

TEST_CASE("busy polling never calls before_sleep") {
    RecordingPoller p;
    Reactor r(0, ReactorOptions{.buffer_pool_bytes = 1u << 20, .busy_poll = true});
    r.start();
    attach(r, p);
    REQUIRE(wait_until([&] { return p.polls.load() >= 1000; }, 5s));
    finish(r, p);
    CHECK(p.sleeps.load() == 0);
}

TEST_CASE("within the poll window the reactor spins; it asks once, when the window closes") {
    RecordingPoller p;
    Reactor r(0, ReactorOptions{.buffer_pool_bytes = 1u << 20, .poll_window = 20ms});
    r.start();
    p.busy_polls = 1;
    attach(r, p);
    REQUIRE(wait_until([&] { return p.sleeps.load() >= 1; }, 2s));
    std::this_thread::sleep_for(50ms);
    finish(r, p);
    CHECK(p.trace.size() > 3);                       // polled on through the window
    CHECK(p.trace.find('S') == p.trace.size() - 1);  // asked only at its end, once
}
