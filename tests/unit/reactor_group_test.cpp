// ReactorGroup::post_to_all: fn runs once on each reactor, on that
// reactor's thread, and the caller does not wait, so a reactor may call it
// (the RDMA transport does, from a CM or device event).
#include <doctest/doctest.h>

#include <future>
#include <mutex>
#include <set>

#include "core/runtime/reactor.hpp"

using namespace nvmfd::runtime;

TEST_CASE("post_to_all runs on every reactor's own thread, also when a reactor posts") {
    ReactorGroup group(3, ReactorOptions{});
    group.start();
    std::mutex mutex;
    std::set<unsigned> ran_on;
    bool own_thread = true;
    std::promise<void> all_ran;
    auto record = [&](Reactor& r) {
        std::lock_guard lock(mutex);
        own_thread &= r.on_this_thread();
        ran_on.insert(r.id());
        if (ran_on.size() == 3) all_ran.set_value();
    };
    // From reactor 0's thread: waiting there for the others would deadlock
    // reactor 0's own message, so post_to_all must return at once.
    group.at(0).post([&] { group.post_to_all(record); });
    REQUIRE(all_ran.get_future().wait_for(std::chrono::seconds(10)) == std::future_status::ready);
    CHECK(ran_on == std::set<unsigned>{0, 1, 2});
    CHECK(own_thread);
    group.stop();
}
