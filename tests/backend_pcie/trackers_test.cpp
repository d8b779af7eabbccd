// Command trackers (issue 13): IDs with generations so that stale
// completions are dropped, deadlines, submission order, renumbering after a
// reset.
#include <doctest/doctest.h>

#include <set>

#include "plugins/backend_pcie/trackers.hpp"

using nvmfd::plugins::pcie::Trackers;
using namespace std::chrono_literals;

namespace {
const Trackers::Clock::time_point t0{};
}

TEST_CASE("trackers: a completion finds its command once; a stale or unknown ID finds nothing") {
    Trackers t(4);
    auto a = t.take(100, t0 + 10s);
    REQUIRE(a);
    CHECK(t.outstanding() == 1);
    CHECK(t.complete(*a) == 100u);
    CHECK_FALSE(t.complete(*a));  // duplicated
    auto b = t.take(200, t0 + 10s);  // the same slot again (a stack of free slots)
    REQUIRE(b);
    CHECK((*b & 0xfff) == (*a & 0xfff));
    CHECK(*b != *a);
    CHECK_FALSE(t.complete(*a));  // the earlier command's late completion: stale
    CHECK(t.complete(*b) == 200u);
    CHECK_FALSE(t.complete(0x0fff));  // out of range
    CHECK_FALSE(t.complete(0x1003));  // a free slot
}

TEST_CASE("trackers: full at the slot count; no ID is FFFFh, whatever the reuse") {
    Trackers t(4095);
    std::set<uint16_t> seen;
    for (int round = 0; round < 17; ++round) {  // every generation, and a wrap
        std::vector<uint16_t> ids;
        while (auto id = t.take(1, t0)) ids.push_back(*id);
        CHECK(ids.size() == 4095);
        CHECK(t.full());
        for (uint16_t id : ids) {
            CHECK(id != 0xffff);
            REQUIRE(t.complete(id));
        }
    }
    Trackers small(3);
    CHECK(small.take(1, t0));
    CHECK(small.take(2, t0));
    CHECK(small.take(3, t0));
    CHECK_FALSE(small.take(4, t0));
}

TEST_CASE("trackers: the oldest expired command first; submission order kept across completions") {
    Trackers t(8);
    auto a = *t.take(1, t0 + 5s);
    auto b = *t.take(2, t0 + 1s);
    auto c = *t.take(3, t0 + 1s);
    auto d = *t.take(4, t0 + 9s);
    CHECK_FALSE(t.first_expired(t0));
    CHECK(t.first_expired(t0 + 2s) == b);  // b and c expired; b was submitted first
    CHECK(t.first_expired(t0 + 6s) == a);  // a is older than b
    REQUIRE(t.complete(b));
    CHECK(t.in_submission_order() == std::vector<uint16_t>{a, c, d});
    auto e = *t.take(5, t0 + 1s);  // reuses b's slot, but comes last
    CHECK(t.in_submission_order() == std::vector<uint16_t>{a, c, d, e});
}

TEST_CASE("trackers: after a reset the same commands get new IDs in the same order; the old ones are stale") {
    Trackers t(8);
    auto a = *t.take(10, t0 + 1s);
    auto b = *t.take(20, t0 + 1s);
    auto c = *t.take(30, t0 + 1s);
    REQUIRE(t.complete(b));
    auto pairs = t.renumber(t0 + 30s);
    REQUIRE(pairs.size() == 2);
    CHECK(pairs[0].first == a);
    CHECK(pairs[1].first == c);
    CHECK(pairs[0].second != a);
    CHECK_FALSE(t.first_expired(t0 + 2s));  // new deadlines
    CHECK_FALSE(t.complete(a));             // what the old drive state might still say
    CHECK(t.complete(pairs[0].second) == 10u);
    CHECK(t.complete(pairs[1].second) == 30u);
    CHECK(t.outstanding() == 0);
}
