// Devices that report their own health (drives): what hosts read in the
// SMART / Health log, and the SMART events they asked for.
#include <doctest/doctest.h>

#include <cstring>

#include "core/proto/smart.hpp"
#include "tests/unit/queue_pair_fixture.hpp"

using namespace nvmfd;
using test::FakeQueue;
using test::QueuePairFixture;

namespace {

class NoIo final : public plugin::IoChannel {
public:
    void submit(plugin::BlockIo& io) override { io.complete(plugin::IoStatus::NotSupported); }
};

// A device with the health a test gives it, and no I/O.
class HealthDevice final : public plugin::BlockDevice {
public:
    explicit HealthDevice(plugin::DeviceHealth health) : health_(health) {}
    plugin::DeviceInfo info() const override {
        plugin::DeviceInfo i;
        i.num_blocks = 2048;
        return i;
    }
    std::unique_ptr<plugin::IoChannel> create_channel(runtime::Reactor&) override { return std::make_unique<NoIo>(); }
    plugin::Params persistent_params() const override { return {}; }
    std::string describe() const override { return "a device with health"; }
    std::optional<plugin::DeviceHealth> health() const override { return health_; }

private:
    plugin::DeviceHealth health_;
};

plugin::DeviceHealth health(uint8_t warning, uint16_t kelvin, uint8_t spare, uint8_t threshold, uint8_t used,
                            uint64_t media_errors) {
    plugin::DeviceHealth h;
    h.critical_warning = warning;
    h.temperature_kelvin = kelvin;
    h.available_spare = spare;
    h.available_spare_threshold = threshold;
    h.percentage_used = used;
    h.media_errors = media_errors;
    return h;
}

proto::Sqe smart_log_sqe(const FakeQueue& q, bool retain_event = false) {
    proto::Sqe sqe{};
    sqe.opcode = uint8_t(proto::AdminOpcode::GetLogPage);
    sqe.nsid = proto::kBroadcastNsid;
    constexpr uint32_t kDwords = sizeof(proto::SmartHealthLog) / 4;
    sqe.cdw10 = uint32_t(proto::LogPageId::SmartHealth) | (retain_event ? 1u << 15 : 0) | ((kDwords - 1) << 16);
    sqe.sgl = q.data_sgl(sizeof(proto::SmartHealthLog));
    return sqe;
}

proto::SmartHealthLog read_smart(FakeQueue& admin) {
    auto done = admin.submit(smart_log_sqe(admin));
    REQUIRE(done);
    REQUIRE(done->status().ok());
    REQUIRE(done->data.size() == sizeof(proto::SmartHealthLog));
    proto::SmartHealthLog log;
    std::memcpy(&log, done->data.data(), sizeof log);
    return log;
}

uint64_t low64(const uint8_t (&counter)[16]) {
    uint64_t v;
    std::memcpy(&v, counter, sizeof v);
    return v;
}

proto::Sqe async_event_config_sqe(const FakeQueue& q, uint32_t value) {
    proto::Sqe sqe{};
    sqe.sgl = q.data_sgl(0);
    sqe.opcode = uint8_t(proto::AdminOpcode::SetFeatures);
    sqe.cdw10 = uint32_t(proto::FeatureId::AsyncEventConfig);
    sqe.cdw11 = value;
    return sqe;
}

proto::Sqe async_event_request_sqe(const FakeQueue& q) {
    proto::Sqe sqe{};
    sqe.sgl = q.data_sgl(0);
    sqe.opcode = uint8_t(proto::AdminOpcode::AsyncEventRequest);
    return sqe;
}

// The target's posts to the admin reactor ran (they run in order).
void settle(QueuePairFixture& f) { f.run([] {}); }

}  // namespace

TEST_CASE("device health: the SMART log without devices that report health is nvmfd's own") {
    QueuePairFixture f;
    FakeQueue admin(f, test::tcp_limits());
    REQUIRE(test::connect_admin(admin));
    const auto log = read_smart(admin);
    CHECK(log.critical_warning == 0);
    CHECK(uint16_t(log.composite_temperature) == 296);
    CHECK(log.available_spare == 100);
    CHECK(log.available_spare_threshold == 10);
    CHECK(log.percentage_used == 0);
    CHECK(low64(log.media_errors) == 0);
}

TEST_CASE("device health: the devices' health merged into the SMART log hosts read") {
    QueuePairFixture f;
    // Namespace 1 stays malloc (no health). Namespace 2: hot, worn, one
    // warning. Namespace 3: cooler, its spare nearest its threshold.
    f.add_namespace(2, std::make_unique<HealthDevice>(health(proto::critical_warning::kTemperature, 350, 90, 10, 40, 5)));
    f.add_namespace(3, std::make_unique<HealthDevice>(health(proto::critical_warning::kReliability, 320, 30, 25, 7, 2)));
    FakeQueue admin(f, test::tcp_limits());
    REQUIRE(test::connect_admin(admin));
    const auto log = read_smart(admin);
    CHECK(log.critical_warning == (proto::critical_warning::kTemperature | proto::critical_warning::kReliability));
    CHECK(uint16_t(log.composite_temperature) == 350);
    CHECK(log.available_spare == 30);
    CHECK(log.available_spare_threshold == 25);
    CHECK(log.percentage_used == 40);
    CHECK(low64(log.media_errors) == 7);
    CHECK(proto::critical_warning_names(log.critical_warning) == "temperature, reliability degraded");
}

TEST_CASE("device health: a raised warning is an event for hosts that enabled it, once until they read the log") {
    QueuePairFixture f;
    FakeQueue admin(f, test::tcp_limits());
    auto cntlid = test::connect_admin(admin);
    REQUIRE(cntlid);
    auto set = admin.submit(async_event_config_sqe(admin, proto::critical_warning::kTemperature | (1u << 8)));
    REQUIRE(set);
    REQUIRE(set->status().ok());

    // Not enabled: nothing. Temperature among what is raised: an event that
    // says so, waiting for the host's next request.
    f.target().notify_critical_warning(test::kQpSubsystemNqn, proto::critical_warning::kReliability);
    f.target().notify_critical_warning(test::kQpSubsystemNqn,
                                       proto::critical_warning::kTemperature | proto::critical_warning::kReliability);
    settle(f);
    auto event = admin.submit(async_event_request_sqe(admin));
    REQUIRE(event);
    CHECK(event->status().ok());
    CHECK(event->cqe.dw0 == proto::async_event_dw0(proto::AsyncEventType::SmartHealth,
                                                   uint8_t(proto::SmartEventInfo::TemperatureThreshold),
                                                   proto::LogPageId::SmartHealth));

    // Until the host reads the log, the same page raises no event.
    f.target().notify_critical_warning(test::kQpSubsystemNqn, proto::critical_warning::kTemperature);
    settle(f);
    (void)read_smart(admin);  // RAE clear: events for the page may come again
    CHECK_FALSE(admin.submit(async_event_request_sqe(admin)));  // waits: the masked one was not kept
    CHECK_FALSE(admin.completed_later());
    f.target().notify_critical_warning(test::kQpSubsystemNqn, proto::critical_warning::kTemperature);
    settle(f);
    auto later = admin.completed_later();
    REQUIRE(later);
    CHECK(later->status().ok());
    CHECK((later->cqe.dw0 & 0xff) == uint32_t(proto::AsyncEventType::SmartHealth));
}

TEST_CASE("device health: the names of critical warnings and the event each raise gives") {
    CHECK(proto::critical_warning_names(0) == "none");
    CHECK(proto::critical_warning_names(0x09) == "available spare below threshold, read-only");
    CHECK(proto::critical_warning_names(0x80) == "reserved bit 7");
    CHECK(proto::smart_event_info(proto::critical_warning::kSpare) == proto::SmartEventInfo::SpareBelowThreshold);
    CHECK(proto::smart_event_info(proto::critical_warning::kSpare | proto::critical_warning::kTemperature) ==
          proto::SmartEventInfo::TemperatureThreshold);
    CHECK(proto::smart_event_info(proto::critical_warning::kReadOnly) == proto::SmartEventInfo::Reliability);
}
