// Controller IDs: handed out round-robin inside the subsystem's range, so
// that gateways exporting one subsystem never give a host the same CNTLID.
#include <doctest/doctest.h>

#include <set>

#include "core/target/controller_registry.hpp"

using nvmfd::target::ControllerRegistry;

TEST_CASE("controller IDs stay inside the subsystem's range and run out with a clear reason") {
    ControllerRegistry reg;
    std::set<uint16_t> ids;
    for (int i = 0; i < 3; ++i) {
        auto id = reg.reserve_id("nqn.a", "nqn.host", 100, 102);
        REQUIRE(id);
        CHECK(*id >= 100);
        CHECK(*id <= 102);
        ids.insert(*id);
    }
    CHECK(ids.size() == 3);
    auto full = reg.reserve_id("nqn.a", "nqn.host", 100, 102);
    REQUIRE_FALSE(full);
    CHECK(full.error().find("100-102") != std::string::npos);
    // Another subsystem has its own IDs.
    CHECK(*reg.reserve_id("nqn.b", "nqn.host", 100, 102) == 100);
}

TEST_CASE("a changed range takes effect for the next controller") {
    ControllerRegistry reg;
    CHECK(*reg.reserve_id("nqn.a", "nqn.host") == 1);
    CHECK(*reg.reserve_id("nqn.a", "nqn.host", 500, 600) == 500);
    CHECK(*reg.reserve_id("nqn.a", "nqn.host", 500, 600) == 501);
    CHECK(*reg.reserve_id("nqn.a", "nqn.host", 1, 10) == 2);
    auto empty = reg.reserve_id("nqn.a", "nqn.host", 10, 9);
    REQUIRE_FALSE(empty);
}

TEST_CASE("one host's controllers in one subsystem are limited; other hosts and subsystems are not") {
    ControllerRegistry reg({.max_controllers = 100, .max_controllers_per_host = 10,
                            .max_controllers_per_host_subsystem = 2});
    auto first = reg.reserve_id("nqn.a", "nqn.host1");
    REQUIRE(first);
    REQUIRE(reg.reserve_id("nqn.a", "nqn.host1"));
    auto refused = reg.reserve_id("nqn.a", "nqn.host1");
    REQUIRE_FALSE(refused);
    CHECK(refused.error().find("max-controllers-per-host-per-subsystem") != std::string::npos);
    CHECK(reg.reserve_id("nqn.a", "nqn.host2"));
    CHECK(reg.reserve_id("nqn.b", "nqn.host1"));
    // A reservation given back frees its place.
    reg.release_reservation("nqn.a", *first);
    CHECK(reg.reserve_id("nqn.a", "nqn.host1"));
}

TEST_CASE("an I/O controller's reservation holds one I/O queue of its host's budget; discovery holds none") {
    ControllerRegistry reg({.max_io_queues_per_host = 2});
    REQUIRE(reg.reserve_id("nqn.a", "nqn.host1"));
    REQUIRE(reg.reserve_id("nqn.b", "nqn.host1"));
    auto refused = reg.reserve_id("nqn.c", "nqn.host1");
    REQUIRE_FALSE(refused);
    CHECK(refused.error().find("max-io-queues-per-host") != std::string::npos);
    CHECK(reg.reserve_id("nqn.2014-08.org.nvmexpress.discovery", "nqn.host1"));
    CHECK(reg.reserve_id("nqn.c", "nqn.host2"));
}
