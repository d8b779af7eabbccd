// A pcie namespace's parameters (issue 13): defaults, normalization, and
// each bad value refused naming its key.
#include <doctest/doctest.h>

#include "plugins/backend_pcie/pcie_options.hpp"

using namespace nvmfd::plugins::pcie;

TEST_CASE("pcie options: the device's PCI address, normalized; defaults for the rest") {
    auto o = parse_pcie_options({{"device", "0000:3B:00.0"}});
    REQUIRE(o);
    CHECK(o->device == "0000:3b:00.0");
    CHECK(o->nsid == 1);
    CHECK(o->queue_depth == 256);
    CHECK(o->io_timeout == std::chrono::milliseconds(10000));
    CHECK(o->interrupts == InterruptMode::Auto);
    CHECK(o->sgl == SglMode::Auto);
    o = parse_pcie_options({{"device", "00:04.0"}, {"nsid", "2"}, {"queue_depth", "64"}, {"io_timeout_ms", "500"},
                            {"interrupts", "off"}, {"sgl", "on"}});
    REQUIRE(o);
    CHECK(o->device == "0000:00:04.0");
    CHECK(o->nsid == 2);
    CHECK(o->queue_depth == 64);
    CHECK(o->interrupts == InterruptMode::Off);
    CHECK(o->sgl == SglMode::On);
    CHECK(parse_pcie_options({{"device", "00:04.0"}, {"sgl", "off"}})->sgl == SglMode::Off);
    CHECK(normalize_pci_address("abcd:ff:1f.7").value() == "abcd:ff:1f.7");
}

TEST_CASE("pcie options: bad values are refused naming the key") {
    const std::pair<nvmfd::plugin::Params, const char*> bad[] = {
        {{}, "device"},
        {{{"device", "0000:3b:00"}}, "device"},
        {{{"device", "0000:3b:20.0"}}, "device"},  // device numbers stop at 1f
        {{{"device", "0000:3b:00.8"}}, "device"},  // functions stop at 7
        {{{"device", "/dev/nvme0"}}, "device"},
        {{{"device", "0000:3b:00.0"}, {"nsid", "0"}}, "nsid"},
        {{{"device", "0000:3b:00.0"}, {"nsid", "4294967295"}}, "nsid"},  // FFFFFFFFh means all namespaces
        {{{"device", "0000:3b:00.0"}, {"queue_depth", "1"}}, "queue_depth"},
        {{{"device", "0000:3b:00.0"}, {"queue_depth", "65536"}}, "queue_depth"},
        {{{"device", "0000:3b:00.0"}, {"io_timeout_ms", "5"}}, "io_timeout_ms"},
        {{{"device", "0000:3b:00.0"}, {"interrupts", "maybe"}}, "interrupts"},
        {{{"device", "0000:3b:00.0"}, {"sgl", "yes"}}, "sgl"},
        {{{"device", "0000:3b:00.0"}, {"path", "/dev/nvme0n1"}}, "path"},
    };
    for (const auto& [params, field] : bad) {
        auto r = parse_pcie_options(params);
        REQUIRE_FALSE(r);
        CHECK(r.error().field == field);
        CHECK(r.error().code == nvmfd::ErrorCode::InvalidArgument);
    }
}
