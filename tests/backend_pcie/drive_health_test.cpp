// A drive's health as its namespaces report it to the core: the SMART log
// fields passed on, and the core told once per change, by each namespace
// still watching.
#include <doctest/doctest.h>

#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

#include "plugins/backend_pcie/drive_health.hpp"

using namespace nvmfd::plugins::pcie;

namespace {

std::vector<uint8_t> smart_page(uint8_t warning, uint16_t kelvin) {
    std::vector<uint8_t> page(512);
    page[0] = warning;
    std::memcpy(&page[1], &kelvin, 2);
    page[3] = 95;   // available spare
    page[4] = 10;   // its threshold
    page[5] = 120;  // percentage used: past the rated life is allowed
    const uint64_t media_errors = 0x1'0000'0007;
    std::memcpy(&page[160], &media_errors, 8);
    page[168] = 1;  // the 128-bit counter's high half: not representable, ignored
    return page;
}

}  // namespace

TEST_CASE("drive health: the SMART log's fields") {
    const auto h = health_from_smart(smart_page(0x06, 323));
    CHECK(h.critical_warning == 0x06);
    CHECK(h.temperature_kelvin == 323);
    CHECK(h.available_spare == 95);
    CHECK(h.available_spare_threshold == 10);
    CHECK(h.percentage_used == 120);
    CHECK(h.media_errors == 0x1'0000'0007);
}

TEST_CASE("drive health: nothing before the first reading; watchers told once per change") {
    DriveHealth health;
    CHECK_FALSE(health.current().has_value());
    int ns1 = 0, ns2 = 0;
    health.watch(&ns1, [&] { ++ns1; });
    health.watch(&ns2, [&] { ++ns2; });

    CHECK(health.update(health_from_smart(smart_page(0, 310))));
    REQUIRE(health.current().has_value());
    CHECK(health.current()->temperature_kelvin == 310);
    CHECK((ns1 == 1 && ns2 == 1));

    CHECK_FALSE(health.update(health_from_smart(smart_page(0, 310))));  // the same reading
    CHECK((ns1 == 1 && ns2 == 1));

    CHECK(health.update(health_from_smart(smart_page(0x02, 345))));
    CHECK(health.current()->critical_warning == 0x02);
    CHECK((ns1 == 2 && ns2 == 2));

    health.unwatch(&ns1);  // namespace 1 removed
    CHECK(health.update(health_from_smart(smart_page(0, 300))));
    CHECK(ns1 == 2);
    CHECK(ns2 == 3);
}

TEST_CASE("drive health: unwatch waits for a call in progress") {
    DriveHealth health;
    std::atomic<bool> in_call{false}, release{false}, returned{false};
    int owner = 0;
    health.watch(&owner, [&] {
        in_call = true;
        while (!release) std::this_thread::yield();
    });
    std::thread monitor([&] { health.update(health_from_smart(smart_page(0x02, 340))); });
    while (!in_call) std::this_thread::yield();
    std::thread remover([&] {
        health.unwatch(&owner);
        returned = true;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    CHECK_FALSE(returned.load());  // the device may not go while the core is being told
    release = true;
    remover.join();
    monitor.join();
    CHECK(returned.load());
}
