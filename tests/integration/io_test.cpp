// Discovery, connect, identify and verified I/O against a live nvmfd, over
// loopback, through the tools/ host library.
#include <doctest/doctest.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "tests/integration/nvmfd_process.hpp"
#include "tools/host/commands.hpp"
#include "tools/host/controller.hpp"
#include "tools/host/discovery.hpp"
#include "tools/host/io_queue.hpp"

using namespace nvmfd;
using namespace nvmfd::host;
using testing::NvmfdProcess;
namespace status = proto::status;

namespace {

ControllerOptions io_controller(const NvmfdProcess& d, bool digests = false) {
    ControllerOptions o;
    o.subnqn = NvmfdProcess::default_nqn();
    o.transport.header_digest = digests;
    o.transport.data_digest = digests;
    o.kato_ms = 10000;
    (void)d;
    return o;
}

std::vector<std::byte> pattern(size_t len, uint64_t seed) {
    std::vector<std::byte> v(len);
    std::mt19937_64 rng(seed);
    for (size_t i = 0; i < len; i += 8) {
        uint64_t x = rng();
        std::memcpy(v.data() + i, &x, std::min<size_t>(8, len - i));
    }
    return v;
}

}  // namespace

TEST_CASE("discovery lists the default subsystem and the discovery controller itself") {
    NvmfdProcess d;
    DiscoveryLog log = discover({"127.0.0.1", d.port()});
    bool found_nvm = false, found_self = false;
    for (const auto& e : log.entries) {
        CHECK(e.trtype == proto::TransportType::Tcp);
        CHECK(e.adrfam == proto::AddressFamily::Ipv4);
        CHECK(e.trsvcid == std::to_string(d.port()));
        CHECK(e.traddr == "127.0.0.1");
        if (e.subtype == proto::DiscoverySubtype::Nvme && e.subnqn == NvmfdProcess::default_nqn()) found_nvm = true;
        if (e.subtype == proto::DiscoverySubtype::CurrentDiscovery && e.subnqn == proto::kDiscoveryNqn) found_self = true;
    }
    CHECK(found_nvm);
    CHECK(found_self);
    CHECK(log.entries.size() == 2);
}

TEST_CASE("identify controller and namespace report what the target is") {
    NvmfdProcess d;
    Controller ctrl = Controller::connect({"127.0.0.1", d.port()}, io_controller(d));
    const proto::IdentifyController& id = ctrl.identify_data();
    CHECK(id.cntlid == ctrl.cntlid());
    CHECK(std::string(id.subnqn) == NvmfdProcess::default_nqn());
    CHECK(std::string(id.mn, 5) == "nvmfd");
    CHECK(id.cntrltype == uint8_t(proto::ControllerType::Io));
    CHECK(ctrl.max_transfer_bytes() == (1u << 20));
    CHECK(ctrl.io_in_capsule_bytes() == 8192);
    CHECK(id.sqes == 0x66);
    CHECK(id.cqes == 0x44);
    CHECK((id.oncs & proto::idctrl::kOncsWriteZeroes) != 0);
    CHECK((id.cmic & proto::idctrl::kCmicAnaReporting) != 0);

    NamespaceGeometry g = ctrl.namespace_geometry(1);
    CHECK(g.block_size == 512);
    CHECK(g.blocks == (256ull << 20) / 512);

    std::vector<uint32_t> active;
    REQUIRE(ctrl.active_namespaces(active) == status::kSuccess);
    CHECK(active == std::vector<uint32_t>{1});

    std::vector<NamespaceDescriptor> descs;
    REQUIRE(ctrl.namespace_descriptors(1, descs) == status::kSuccess);
    bool has_uuid = false, has_nguid = false;
    for (auto& x : descs) {
        has_uuid |= x.type == proto::NidType::Uuid && x.id.size() == 16;
        has_nguid |= x.type == proto::NidType::Nguid && x.id.size() == 16;
    }
    CHECK(has_uuid);
    CHECK(has_nguid);

    // An inactive NSID reads as zeroes; NSID 0 is invalid.
    proto::IdentifyNamespace inactive;
    REQUIRE(ctrl.identify_namespace(7, inactive) == status::kSuccess);
    CHECK(inactive.nsze == 0);
    CHECK(ctrl.identify_namespace(0, inactive) == status::kInvalidNamespace);
}

TEST_CASE("write and read back from 512 B to 1 MiB, in-capsule and R2T, digests off and on") {
    NvmfdProcess d;
    for (bool digests : {false, true}) {
        CAPTURE(digests);
        Controller ctrl = Controller::connect({"127.0.0.1", d.port()}, io_controller(d, digests));
        REQUIRE(ctrl.request_io_queues(2) >= 1);
        IoQueue io = ctrl.connect_io_queue(1, 32);
        uint64_t lba = digests ? 100000 : 0;
        // 8 KiB is the in-capsule limit: 8 KiB + 512 takes the R2T path.
        for (size_t len : {512ul, 4096ul, 8192ul, 8192ul + 512, 65536ul, 131072ul + 4096, 1ul << 20}) {
            CAPTURE(len);
            auto data = pattern(len, len + digests);
            uint32_t blocks = static_cast<uint32_t>(len / 512);
            REQUIRE(io.write(1, lba, blocks, data) == status::kSuccess);
            std::vector<std::byte> back(len);
            REQUIRE(io.read(1, lba, blocks, back) == status::kSuccess);
            CHECK(back == data);
            CHECK(io.compare(1, lba, blocks, data) == status::kSuccess);
            lba += blocks;
        }
        // Explicitly through R2T for a small write, too.
        auto small = pattern(4096, 99);
        REQUIRE(io.write(1, lba, 8, small, DataPlacement::Transport) == status::kSuccess);
        std::vector<std::byte> back(4096);
        REQUIRE(io.read(1, lba, 8, back) == status::kSuccess);
        CHECK(back == small);
    }
}

TEST_CASE("several queues and connections at once keep their data apart") {
    testing::DaemonOptions two_reactors;
    two_reactors.extra_args = {"--reactors", "2"};
    NvmfdProcess d(two_reactors);
    Controller ctrl = Controller::connect({"127.0.0.1", d.port()}, io_controller(d));
    uint16_t granted = ctrl.request_io_queues(4);
    REQUIRE(granted >= 4);
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (uint16_t q = 1; q <= 4; ++q) {
        threads.emplace_back([&, q] {
            try {
                IoQueue io = ctrl.connect_io_queue(q, 64);
                for (int round = 0; round < 50; ++round) {
                    size_t len = 4096u << (round % 5);
                    uint64_t lba = uint64_t(q) * 100000 + uint64_t(round) * 1024;  // within the 256 MiB namespace
                    auto data = pattern(len, q * 1000 + round);
                    uint32_t blocks = static_cast<uint32_t>(len / 512);
                    auto ws = io.write(1, lba, blocks, data);
                    std::vector<std::byte> back(len);
                    auto rs = io.read(1, lba, blocks, back);
                    if (ws != status::kSuccess || rs != status::kSuccess || back != data) {
                        std::fprintf(stderr, "queue %u round %d: write %#x read %#x data %s\n", q, round, ws.value,
                                     rs.value, back == data ? "same" : "differs");
                        ++failures;
                    }
                }
            } catch (const std::exception& e) {
                MESSAGE(e.what());
                ++failures;
            }
        });
    }
    for (auto& t : threads) t.join();
    CHECK(failures == 0);
}

TEST_CASE("flush, write zeroes and deallocate") {
    NvmfdProcess d;
    Controller ctrl = Controller::connect({"127.0.0.1", d.port()}, io_controller(d));
    ctrl.request_io_queues(1);
    IoQueue io = ctrl.connect_io_queue(1, 16);
    auto data = pattern(64 * 1024, 5);
    REQUIRE(io.write(1, 2048, 128, data) == status::kSuccess);
    CHECK(io.flush(1) == status::kSuccess);

    REQUIRE(io.write_zeroes(1, 2048, 16) == status::kSuccess);
    std::vector<std::byte> back(64 * 1024);
    REQUIRE(io.read(1, 2048, 128, back) == status::kSuccess);
    std::vector<std::byte> zeroes(8192);
    CHECK(std::memcmp(back.data(), zeroes.data(), 8192) == 0);
    CHECK(std::memcmp(back.data() + 8192, data.data() + 8192, data.size() - 8192) == 0);

    proto::DsmRange r{0, 64, 2048 + 64};
    REQUIRE(io.deallocate(1, std::span(&r, 1)) == status::kSuccess);
    REQUIRE(io.read(1, 2048, 128, back) == status::kSuccess);
    std::vector<std::byte> expect(64 * 1024);
    std::memcpy(expect.data() + 8192, data.data() + 8192, 64 * 512 - 8192);
    CHECK(back == expect);
}

TEST_CASE("bad I/O gets the specification's status and the queue keeps working") {
    NvmfdProcess d;
    Controller ctrl = Controller::connect({"127.0.0.1", d.port()}, io_controller(d));
    ctrl.request_io_queues(1);
    IoQueue io = ctrl.connect_io_queue(1, 16);
    uint64_t blocks = (256ull << 20) / 512;
    std::vector<std::byte> buf(4096);
    CHECK(io.read(1, blocks - 4, 8, buf) == status::kLbaOutOfRange);
    CHECK(io.read(1, blocks, 8, buf) == status::kLbaOutOfRange);
    CHECK(io.read(1, ~0ull - 2, 8, buf) == status::kLbaOutOfRange);  // no wrap-around
    CHECK(io.read(2, 0, 8, buf) == status::kInvalidNamespace);
    CHECK(io.write_zeroes(1, blocks - 1, 2) == status::kLbaOutOfRange);
    proto::Sqe bogus = cmd::read(1, 0, 8);
    bogus.opcode = 0x7e;
    bogus.sgl.length = 0;
    CHECK(io.execute(bogus).status == status::kInvalidOpcode);
    // The transfer length must match the command.
    std::vector<std::byte> small(512);
    CHECK(io.read(1, 0, 8, small) == status::kSglLengthInvalid);
    // More than MDTS.
    std::vector<std::byte> huge(2u << 20);
    CHECK(io.read(1, 0, 4096, huge) == status::kInvalidField);
    // Still fine afterwards.
    CHECK(io.read(1, 0, 8, buf) == status::kSuccess);
    auto data = pattern(4096, 1);
    REQUIRE(io.write(1, 0, 8, data) == status::kSuccess);
    auto other = pattern(4096, 2);
    CHECK(io.compare(1, 0, 8, other) == status::kCompareFailure);
}
