// core/control/lent_memory: which ranges of which devices the transports
// that register memory are told of, when a device is pinned, and that every
// range is withdrawn when the device closes. (That Control closes it only
// after the drain, before the device goes, is Control::drop_namespace's.)
#include <doctest/doctest.h>

#include <vector>

#include "core/control/lent_memory.hpp"
#include "core/runtime/log.hpp"
#include "core/target/target.hpp"

using namespace nvmfd;

namespace {

using Range = std::span<const std::byte>;

struct FakeDevice final : plugin::BlockDevice {
    explicit FakeDevice(size_t size, bool lends = true) : memory(1 << 20), size(size), lends(lends) {}
    plugin::DeviceInfo info() const override {
        plugin::DeviceInfo i;
        i.num_blocks = size / 512;
        i.provides_read_buffers = lends;
        return i;
    }
    std::unique_ptr<plugin::IoChannel> create_channel(runtime::Reactor&) override { return nullptr; }
    plugin::Params persistent_params() const override { return {}; }
    std::string describe() const override { return "fake"; }
    Range pin_lent_memory() override {
        ++pins;
        return Range(memory.data(), size);
    }
    std::vector<std::byte> memory;
    size_t size;
    bool lends;
    int pins = 0;
};

struct FakeTransport final : plugin::Transport {
    explicit FakeTransport(bool takes) : takes(takes) {}
    std::string_view name() const override { return "fake"; }
    plugin::TransportLimits limits() const override { return {}; }
    Result<void> add_port(const plugin::PortConfig&) override { return {}; }
    void remove_port(uint16_t) override {}
    plugin::DiscoveryAddress discovery_address(const plugin::PortConfig&) const override { return {}; }
    void stop_listening() override {}
    bool registers_lent_memory() const override { return takes; }
    void memory_lent(Range r) override { lent.push_back(r); }
    void memory_withdrawn(Range r) override { withdrawn.push_back(r); }
    bool takes;
    std::vector<Range> lent, withdrawn;
};

bool same(Range a, Range b) { return a.data() == b.data() && a.size() == b.size(); }

struct Setup {
    Setup() { log::set_level(log::Level::Warning); }
    runtime::ReactorGroup reactors{1, runtime::ReactorOptions{.buffer_pool_bytes = 1u << 20}};
    target::Target target{reactors, {}};
    control::LentMemory lent{target};
};

}  // namespace

TEST_CASE("lent memory: a device is pinned only once a transport registers memory") {
    Setup s;
    FakeDevice dev(64 << 10);
    FakeTransport tcp_like(false), rdma_like(true);
    s.lent.device_opened(dev);
    s.lent.transport_added(tcp_like);
    CHECK(dev.pins == 0);  // nobody asked: its pages may still go back to the kernel
    CHECK(s.lent.ranges_of(dev).empty());

    s.lent.transport_added(rdma_like);
    CHECK(dev.pins == 1);
    REQUIRE(rdma_like.lent.size() == 1);
    CHECK(same(rdma_like.lent[0], Range(dev.memory.data(), 64 << 10)));
    CHECK(tcp_like.lent.empty());

    // A second taker hears of what was lent, without pinning again.
    FakeTransport other(true);
    s.lent.transport_added(other);
    CHECK(dev.pins == 1);
    REQUIRE(other.lent.size() == 1);
    CHECK(same(other.lent[0], rdma_like.lent[0]));
}

TEST_CASE("lent memory: a device opened after the transport is lent at once; one that lends nothing never") {
    Setup s;
    FakeTransport rdma_like(true);
    s.lent.transport_added(rdma_like);
    FakeDevice dev(8 << 10), uring_like(8 << 10, false);
    s.lent.device_opened(uring_like);
    CHECK(uring_like.pins == 0);
    s.lent.device_opened(dev);
    CHECK(dev.pins == 1);
    REQUIRE(rdma_like.lent.size() == 1);
    CHECK(same(rdma_like.lent[0], Range(dev.memory.data(), 8 << 10)));
    s.lent.device_closing(uring_like);
    CHECK(rdma_like.withdrawn.empty());
}

TEST_CASE("lent memory: growth is lent as one more range, shrinking lends nothing, closing withdraws all") {
    Setup s;
    FakeTransport rdma_like(true);
    s.lent.transport_added(rdma_like);
    FakeDevice dev(16 << 10);
    s.lent.device_opened(dev);
    dev.size = 48 << 10;
    s.lent.device_resized(dev);
    REQUIRE(rdma_like.lent.size() == 2);
    CHECK(same(rdma_like.lent[1], Range(dev.memory.data() + (16 << 10), 32 << 10)));
    dev.size = 8 << 10;
    s.lent.device_resized(dev);
    dev.size = 40 << 10;  // grown again, within what was lent
    s.lent.device_resized(dev);
    CHECK(rdma_like.lent.size() == 2);
    CHECK(s.lent.ranges_of(dev).size() == 2);

    s.lent.device_closing(dev);
    REQUIRE(rdma_like.withdrawn.size() == 2);
    CHECK(same(rdma_like.withdrawn[0], rdma_like.lent[0]));
    CHECK(same(rdma_like.withdrawn[1], rdma_like.lent[1]));
    CHECK(s.lent.ranges_of(dev).empty());
    // A transport made after the device went hears nothing of it.
    FakeTransport late(true);
    s.lent.transport_added(late);
    CHECK(late.lent.empty());
}
