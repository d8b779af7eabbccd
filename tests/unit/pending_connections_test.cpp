// The per-address count of connections that have not completed Connect
// (max-pending-connections-per-address), shared by every transport.
#include <doctest/doctest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "core/plugin/pending_connections.hpp"

using nvmfd::plugin::PendingConnections;

TEST_CASE("an address is admitted up to the limit, then refused until one of its connections goes") {
    PendingConnections pending(2);
    uint32_t held = 99;
    CHECK(pending.admit("192.0.2.1", held));
    CHECK(held == 0);
    CHECK(pending.admit("192.0.2.1", held));
    CHECK(held == 1);
    CHECK_FALSE(pending.admit("192.0.2.1", held));
    CHECK(held == 2);
    CHECK_FALSE(pending.admit("192.0.2.1", held));  // a refusal takes nothing

    // Other addresses have their own count.
    CHECK(pending.admit("192.0.2.2", held));
    CHECK(held == 0);

    pending.release("192.0.2.1");
    CHECK(pending.admit("192.0.2.1", held));
    CHECK(held == 1);
}

TEST_CASE("an address whose connections all went starts from zero; unknown releases are ignored") {
    PendingConnections pending(1);
    uint32_t held = 0;
    pending.release("198.51.100.7");  // never admitted: nothing to take away
    REQUIRE(pending.admit("198.51.100.7", held));
    pending.release("198.51.100.7");
    pending.release("198.51.100.7");  // one too many must not make room for two
    CHECK(pending.admit("198.51.100.7", held));
    CHECK(held == 0);
    CHECK_FALSE(pending.admit("198.51.100.7", held));
    CHECK(pending.max_per_address() == 1);
}

TEST_CASE("reactors admitting and releasing at once never exceed the limit") {
    constexpr uint32_t kLimit = 2;  // fewer than the threads: some admissions are refused
    PendingConnections pending(kLimit);
    std::atomic<int> admitted{0}, refused{0}, wrong_counts{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 10000; ++i) {
                uint32_t held = 0;
                if (pending.admit("203.0.113.9", held)) {
                    if (held >= kLimit) ++wrong_counts;
                    ++admitted;
                    std::this_thread::yield();
                    pending.release("203.0.113.9");
                } else {
                    if (held != kLimit) ++wrong_counts;
                    ++refused;
                }
            }
        });
    }
    for (auto& t : threads) t.join();
    CHECK(wrong_counts.load() == 0);
    CHECK(admitted.load() + refused.load() == 40000);
    CHECK(admitted.load() > 0);
    // Every admission was released: the full limit is free again.
    uint32_t held = 0;
    for (uint32_t i = 0; i < kLimit; ++i) CHECK(pending.admit("203.0.113.9", held));
    CHECK_FALSE(pending.admit("203.0.113.9", held));
    CHECK(held == kLimit);
}
