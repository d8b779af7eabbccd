// Admin commands against a live nvmfd: log pages, features, the command
// sequence rules, keep-alive and errors recorded in the error log.
#include <doctest/doctest.h>

#include <cstring>
#include <thread>
#include <vector>


#include "tests/integration/log_wait.hpp"
#include "tests/integration/nvmfd_process.hpp"
#include "tests/integration/policy_state.hpp"
#include "tools/host/commands.hpp"
#include "tools/host/controller.hpp"
#include "tools/host/errors.hpp"
#include "tools/host/io_queue.hpp"

using namespace nvmfd;
using namespace nvmfd::host;
using testing::NvmfdProcess;
namespace status = proto::status;

namespace {

ControllerOptions opts(uint32_t kato = 10000) {
    ControllerOptions o;
    o.subnqn = NvmfdProcess::default_nqn();
    o.kato_ms = kato;
    return o;
}

template <typename T>
T read_log(Controller& c, proto::LogPageId lid, uint8_t lsp = 0) {
    T out{};
    auto st = c.get_log_page(uint8_t(lid), std::span(reinterpret_cast<std::byte*>(&out), sizeof out), 0,
                             proto::kBroadcastNsid, lsp);
    REQUIRE(st == status::kSuccess);
    return out;
}

uint64_t u128_low(const uint8_t (&f)[16]) {
    uint64_t v;
    std::memcpy(&v, f, sizeof v);
    return v;
}

}  // namespace

TEST_CASE("SMART counts the I/O done; the error log records failed commands") {
    NvmfdProcess d;
    Controller ctrl = Controller::connect({"127.0.0.1", d.port()}, opts());
    ctrl.request_io_queues(1);
    IoQueue io = ctrl.connect_io_queue(1, 8);
    std::vector<std::byte> buf(1u << 20);
    for (int i = 0; i < 3; ++i) REQUIRE(io.write(1, 0, 2048, buf) == status::kSuccess);
    REQUIRE(io.read(1, 0, 2048, buf) == status::kSuccess);
    auto smart = read_log<proto::SmartHealthLog>(ctrl, proto::LogPageId::SmartHealth);
    CHECK(u128_low(smart.host_write_commands) == 3);
    CHECK(u128_low(smart.host_read_commands) == 1);
    CHECK(u128_low(smart.data_units_written) == (3 * 2048 + 999) / 1000);
    uint16_t kelvin = smart.composite_temperature;
    CHECK(kelvin > 273);

    std::vector<std::byte> small(4096);
    CHECK(io.read(1, ~0ull - 1, 8, small) == status::kLbaOutOfRange);
    struct ErrorLog {
        proto::ErrorLogEntry e[64];
    };
    auto errors = read_log<ErrorLog>(ctrl, proto::LogPageId::ErrorInformation);
    CHECK(errors.e[0].error_count >= 1);
    CHECK(errors.e[0].sqid == 1);
    CHECK(proto::Status::from_cqe(errors.e[0].status) == status::kLbaOutOfRange);
    CHECK(errors.e[0].parameter_error_location == offsetof(proto::Sqe, cdw10));

    auto fw = read_log<proto::FirmwareSlotLog>(ctrl, proto::LogPageId::FirmwareSlot);
    CHECK(fw.afi == 1);
    auto effects = read_log<proto::CommandEffectsLog>(ctrl, proto::LogPageId::CommandsSupportedAndEffects);
    CHECK((effects.io[uint8_t(proto::IoOpcode::Write)] & proto::effects::kLogicalBlockContentChange) != 0);
    CHECK((effects.admin[uint8_t(proto::AdminOpcode::Identify)] & proto::effects::kSupported) != 0);
}

TEST_CASE("the ANA log lists group 1 as optimized with namespace 1") {
    NvmfdProcess d;
    Controller ctrl = Controller::connect({"127.0.0.1", d.port()}, opts());
    std::vector<std::byte> page(4096);
    REQUIRE(ctrl.get_log_page(uint8_t(proto::LogPageId::AsymmetricNamespaceAccess), page) == status::kSuccess);
    proto::AnaLogHeader hdr;
    std::memcpy(&hdr, page.data(), sizeof hdr);
    REQUIRE(hdr.group_count == 1);
    proto::AnaGroupDescriptor g;
    std::memcpy(&g, page.data() + sizeof hdr, sizeof g);
    CHECK(g.group_id == 1);
    CHECK(g.state == uint8_t(proto::AnaState::Optimized));
    REQUIRE(g.nsid_count == 1);
    uint32_t nsid;
    std::memcpy(&nsid, page.data() + sizeof hdr + sizeof g, 4);
    CHECK(nsid == 1);
    // Read in chunks past the current content, as libnvme does: zeroes, not an error.
    CHECK(ctrl.get_log_page(uint8_t(proto::LogPageId::AsymmetricNamespaceAccess), page, 4096) == status::kSuccess);
    // An unknown log page.
    CHECK(ctrl.get_log_page(0x7b, page) == status::kInvalidLogPage);
}

TEST_CASE("features: number of queues, keep-alive, async event configuration") {
    NvmfdProcess d;
    Controller ctrl = Controller::connect({"127.0.0.1", d.port()}, opts());
    CHECK(ctrl.request_io_queues(3) == 3);
    Completion q = ctrl.get_features(uint8_t(proto::FeatureId::NumberOfQueues));
    CHECK(q.status == status::kSuccess);
    CHECK((q.dw0 & 0xffff) == 2);
    Completion k = ctrl.get_features(uint8_t(proto::FeatureId::KeepAliveTimer));
    CHECK(k.dw0 == 10000);
    CHECK(ctrl.set_features(uint8_t(proto::FeatureId::AsyncEventConfig), (1u << 8) | (1u << 11)).status ==
          status::kSuccess);
    CHECK(ctrl.get_features(uint8_t(proto::FeatureId::AsyncEventConfig)).dw0 == ((1u << 8) | (1u << 11)));
    CHECK(ctrl.set_features(uint8_t(proto::FeatureId::NumberOfQueues), 0xffff).status == status::kInvalidField);
    CHECK(ctrl.set_features(0x55, 0).status == status::kInvalidField);
    CHECK(ctrl.set_features(uint8_t(proto::FeatureId::AsyncEventConfig), 0, {}, true).status ==
          status::kFeatureNotSaveable);
    std::array<std::byte, 16> hostid{};
    CHECK(ctrl.get_features(uint8_t(proto::FeatureId::HostIdentifier), proto::FeatureSelect::Current, 1, hostid)
              .status == status::kSuccess);
    CHECK(std::memcmp(hostid.data(), ctrl.options().host.hostid.data(), 16) == 0);
    CHECK(ctrl.keep_alive() == status::kSuccess);
}

TEST_CASE("I/O queues need an enabled controller and a granted queue id") {
    NvmfdProcess d;
    ControllerOptions o = opts();
    o.enable = false;
    o.identify = false;
    Controller ctrl = Controller::connect({"127.0.0.1", d.port()}, o);
    // Admin commands before CC.EN are a command sequence error.
    proto::IdentifyController id;
    CHECK(ctrl.identify_controller(id) == status::kCommandSequenceError);
    CHECK_THROWS(ctrl.connect_io_queue(1, 8));
    ctrl.enable();
    CHECK(ctrl.identify_controller(id) == status::kSuccess);
    ctrl.request_io_queues(1);
    CHECK_THROWS_AS(ctrl.connect_io_queue(2, 8), StatusError);  // not granted
    IoQueue io = ctrl.connect_io_queue(1, 8);
    CHECK_THROWS_AS(ctrl.connect_io_queue(1, 8), StatusError);  // taken
    ctrl.shutdown();
    CHECK((ctrl.read_property(proto::property::kCsts) & proto::csts::kShutdownMask) == proto::csts::kShutdownComplete);
}

TEST_CASE("a host that goes silent past KATO loses its association; others keep going") {
    NvmfdProcess d;
    Controller quiet = Controller::connect({"127.0.0.1", d.port()}, opts(1000));
    quiet.request_io_queues(1);
    IoQueue quiet_io = quiet.connect_io_queue(1, 8);
    Controller busy = Controller::connect({"127.0.0.1", d.port()}, opts(10000));
    busy.request_io_queues(1);
    IoQueue busy_io = busy.connect_io_queue(1, 8);
    std::vector<std::byte> buf(4096);
    // Keep-alive expiry is checked every KATO; a silent host is gone within two.
    auto start = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - start < std::chrono::milliseconds(2600)) {
        REQUIRE(busy_io.read(1, 0, 8, buf) == status::kSuccess);
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    CHECK_THROWS(quiet_io.read(1, 0, 8, buf));
    CHECK_THROWS(quiet.keep_alive());
    CHECK(busy_io.read(1, 0, 8, buf) == status::kSuccess);
    CHECK(busy.keep_alive() == status::kSuccess);
    CHECK(d.log().find("keep-alive timeout") != std::string::npos);
}

TEST_CASE("policies hear why an association ended: keep-alive timeout, or the host leaving") {
    const std::string nqn = "nqn.2026-11.io.nvmfd:health";
    testing::DaemonOptions o;
    o.state_json = testing::state_with_policy(
        nqn, "health",
        "function on_controller_disconnect(i) nvmfd.log('notice', 'gone: ' .. i.host .. ' ' .. i.reason) end");
    NvmfdProcess d(o);
    ControllerOptions quiet = opts(1000);
    quiet.subnqn = nqn;
    quiet.host.hostnqn = "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-00000000051e";
    Controller silent = Controller::connect({"127.0.0.1", d.port()}, quiet);
    ControllerOptions polite = opts();
    polite.subnqn = nqn;
    polite.host.hostnqn = "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-00000000b1e5";
    {
        Controller leaving = Controller::connect({"127.0.0.1", d.port()}, polite);
    }  // closes its connection
    CHECK(testing::log_shows(d, "gone: " + polite.host.hostnqn + " admin queue closed"));
    CHECK(testing::log_shows(d, "gone: " + quiet.host.hostnqn + " keep-alive timeout"));
}
