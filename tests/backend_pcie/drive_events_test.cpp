// A drive's asynchronous events (issue 13): completions parsed, and the
// lines an admin reads for a SMART warning and for changed namespaces.
#include <doctest/doctest.h>

#include <cstring>
#include <vector>

#include "plugins/backend_pcie/drive_events.hpp"

using namespace nvmfd::plugins::pcie;
namespace proto = nvmfd::proto;

TEST_CASE("drive events: a completion's type, information and log page") {
    auto e = parse_drive_event(proto::async_event_dw0(proto::AsyncEventType::SmartHealth, 1, proto::LogPageId::SmartHealth));
    CHECK(e.type == proto::AsyncEventType::SmartHealth);
    CHECK(e.info == 1);
    CHECK(e.log == proto::LogPageId::SmartHealth);
    CHECK(describe_event(e) == "SMART/health event: temperature threshold");
    CHECK(event_log_bytes(e.log) == 512);
    e = parse_drive_event(0x040002);
    CHECK(describe_event(e) == "notice: namespace attribute changed");
    CHECK(event_log_bytes(e.log) == 4096);
    CHECK(event_log_bytes(proto::LogPageId::ErrorInformation) == 64);
    CHECK(describe_event(parse_drive_event(0xc0ff07)) == "vendor-specific event 0xff (log page 0xc0)");
}

TEST_CASE("drive events: a SMART log page as the admin reads it") {
    std::vector<uint8_t> page(512);
    page[0] = 0x06;  // temperature, reliability degraded
    const uint16_t kelvin = 323;
    std::memcpy(&page[1], &kelvin, 2);
    page[3] = 95;
    page[4] = 10;
    page[5] = 3;
    page[160] = 7;  // media errors, the 128-bit counter's low byte
    CHECK(describe_smart(page) ==
          "critical warning 0x6 (temperature, reliability degraded), composite temperature 50 °C, available spare 95% "
          "(threshold 10%), 3% of its rated life used, 7 media errors");
    page[0] = 0;
    CHECK(describe_smart(page).starts_with("critical warning 0x0, composite temperature 50 °C"));
}

TEST_CASE("drive events: the changed namespace list, up to its first zero; over 1024 changed") {
    std::vector<uint8_t> page(4096);
    const uint32_t ids[] = {1, 7, 0, 9};
    std::memcpy(page.data(), ids, sizeof ids);
    auto c = parse_changed_namespaces(page);
    CHECK(c.nsids == std::vector<uint32_t>{1, 7});
    CHECK_FALSE(c.more);
    const uint32_t all = 0xffffffff;
    std::memcpy(page.data(), &all, 4);
    c = parse_changed_namespaces(page);
    CHECK(c.more);
    CHECK(c.nsids.empty());
    std::vector<uint8_t> full(4096);
    for (uint32_t i = 0; i < 1024; ++i) {
        const uint32_t id = i + 1;
        std::memcpy(&full[i * 4], &id, 4);
    }
    CHECK(parse_changed_namespaces(full).nsids.size() == 1024);
}
