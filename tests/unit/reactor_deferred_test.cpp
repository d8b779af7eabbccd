// Deferred work and the objects that queue it: work destroyed before its
// turn ends is dropped, never run (a TCP connection may be deleted by a
// message in the very turn it asked to be flushed; found by the mutation
// storm under load, as a use after free in run_deferred).
#include <doctest/doctest.h>

#include <future>
#include <memory>

#include "core/runtime/reactor.hpp"

using namespace nvmfd::runtime;

namespace {

struct Work final : Deferred {
    int runs = 0;
    std::function<void()> on_run;
    void run_deferred() override {
        ++runs;
        if (on_run) on_run();
    }
};

// Runs f on the reactor's thread and waits for it, then for one more turn,
// so that the deferred work f queued has had its chance.
void on_reactor(Reactor& r, std::function<void()> f) {
    std::promise<void> done;
    r.post([&] {
        f();
        r.post([&] { done.set_value(); });
    });
    done.get_future().wait();
}

}  // namespace

TEST_CASE("deferred work destroyed in its turn is not run") {
    Reactor r(0, ReactorOptions{});
    r.start();

    SUBCASE("destroyed by a message of the same turn, before the deferred phase") {
        auto kept = std::make_unique<Work>();
        int doomed_runs = 0;
        on_reactor(r, [&] {
            auto doomed = std::make_unique<Work>();
            doomed->on_run = [&] { ++doomed_runs; };
            r.defer(*doomed);
            r.defer(*kept);
            CHECK(doomed->deferred_queued());
            doomed.reset();  // as TcpTransport::forget's message does
        });
        CHECK(doomed_runs == 0);
        CHECK(kept->runs == 1);
        CHECK_FALSE(kept->deferred_queued());
    }

    SUBCASE("destroyed by other deferred work running before it") {
        auto first = std::make_unique<Work>();
        auto second = std::make_unique<Work>();
        auto third = std::make_unique<Work>();
        Work* second_raw = second.get();
        int second_runs = 0;
        second->on_run = [&] { ++second_runs; };
        first->on_run = [&] { second.reset(); };
        on_reactor(r, [&] {
            r.defer(*first);
            r.defer(*second_raw);
            r.defer(*third);
        });
        CHECK(first->runs == 1);
        CHECK(second == nullptr);
        CHECK(second_runs == 0);
        CHECK(third->runs == 1);
    }

    SUBCASE("work queued again while running runs again in the same turn, once") {
        auto w = std::make_unique<Work>();
        w->on_run = [&] {
            if (w->runs == 1) {
                r.defer(*w);
                r.defer(*w);  // already queued: no-op
            }
        };
        on_reactor(r, [&] { r.defer(*w); });
        CHECK(w->runs == 2);
    }

    r.stop();
    r.join();
}
