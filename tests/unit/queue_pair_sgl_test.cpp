// How QueuePair::prepare reads SGL descriptors on a transport with keyed
// SGLs (NVMe/RDMA) and on one without (NVMe/TCP): which descriptor moves
// data on each, the statuses and SQE offsets of the refusals, Dataset
// Management's length, what Identify and the error log report.
#include <doctest/doctest.h>

#include <cstddef>
#include <cstring>

#include "core/proto/identify.hpp"
#include "core/proto/log_pages.hpp"
#include "tests/unit/queue_pair_fixture.hpp"

using namespace nvmfd;
using namespace nvmfd::test;
namespace status = proto::status;

namespace {

constexpr uint16_t kSglAt = offsetof(proto::Sqe, sgl);
constexpr uint16_t kSglLengthAt = kSglAt + 8;
constexpr uint16_t kSglTypeAt = kSglAt + 15;
constexpr uint16_t kCdw12At = offsetof(proto::Sqe, cdw12);

// An admin queue and I/O queue 1 of one controller, over one transport.
struct Association {
    FakeQueue admin;
    FakeQueue io;
    Association(QueuePairFixture& f, plugin::TransportLimits limits) : admin(f, limits), io(f, limits) {
        auto cntlid = connect_admin(admin);
        REQUIRE(cntlid);
        auto connected = connect_io(io, 1, *cntlid);
        REQUIRE(connected);
        REQUIRE(connected->status().ok());
    }
};

void check_ok(const std::optional<Outcome>& o, uint32_t transfer_length) {
    REQUIRE(o);
    CHECK(o->status().value == 0);
    CHECK(o->transfer_length == transfer_length);
}

void check_refused(const std::optional<Outcome>& o, proto::Status st, uint16_t location) {
    REQUIRE(o);
    CHECK(o->status() == st);
    CHECK(o->status().dnr());
    CHECK(o->error_location == location);
}

proto::SglDescriptor tcp_transport_sgl(uint32_t length) {
    proto::SglDescriptor d{};
    d.type = proto::sgl::kTransport;
    d.length = length;
    return d;
}

proto::SglDescriptor in_capsule_sgl(uint32_t length) {
    proto::SglDescriptor d{};
    d.type = proto::sgl::kInCapsule;
    d.length = length;
    return d;
}

proto::Sqe flush_sqe(const proto::SglDescriptor& sgl) {
    proto::Sqe sqe{};
    sqe.opcode = uint8_t(proto::IoOpcode::Flush);
    sqe.nsid = 1;
    sqe.sgl = sgl;
    return sqe;
}

proto::Sqe deallocate_sqe(const proto::SglDescriptor& sgl) {
    proto::Sqe sqe{};
    sqe.opcode = uint8_t(proto::IoOpcode::DatasetManagement);
    sqe.nsid = 1;
    sqe.cdw10 = 0;  // one range
    sqe.cdw11 = proto::kDsmAttrDeallocate;
    sqe.sgl = sgl;
    return sqe;
}

std::vector<uint8_t> one_range(uint64_t slba, uint32_t blocks) {
    proto::DsmRange r{0, blocks, slba};
    std::vector<uint8_t> bytes(sizeof r);
    std::memcpy(bytes.data(), &r, sizeof r);
    return bytes;
}

}  // namespace

TEST_CASE("an RDMA queue moves data by keyed descriptors and refuses TCP's transport descriptor") {
    QueuePairFixture f;
    Association a(f, rdma_limits());
    // Keys whose low byte would make a 32-bit read of the length wrong.
    auto read = a.io.submit(read_sqe(0, 8, proto::keyed_sgl(0x10000, 4096, 0xd4c3b2a1)));
    check_ok(read, 4096);
    CHECK(read->data.size() == 4096);
    check_ok(a.io.submit(read_sqe(8, 8, proto::keyed_sgl(0x10000, 4096, 0x000000ff, true))), 4096);
    check_ok(a.io.submit(write_sqe(16, 8, proto::keyed_sgl(0x10000, 4096, 0x11223344, true)), std::vector<uint8_t>(4096, 0x5a)),
             4096);

    check_refused(a.io.submit(read_sqe(0, 8, tcp_transport_sgl(4096))), status::kSglTypeInvalid, kSglTypeAt);
    check_refused(a.io.submit(write_sqe(0, 8, tcp_transport_sgl(4096))), status::kSglTypeInvalid, kSglTypeAt);
}

TEST_CASE("a TCP queue refuses keyed descriptors and reads the length field whole, as before") {
    QueuePairFixture f;
    Association a(f, tcp_limits());
    check_ok(a.io.submit(read_sqe(0, 8, tcp_transport_sgl(4096))), 4096);
    check_refused(a.io.submit(read_sqe(0, 8, proto::keyed_sgl(0x10000, 4096, 0))), status::kSglTypeInvalid,
                  kSglTypeAt);
    // Bytes 11..14 are no key on TCP: the length is 0x78001000, not 4096.
    check_refused(a.io.submit(read_sqe(0, 8, proto::keyed_sgl(0x10000, 4096, 0x12345678))),
                  status::kSglLengthInvalid, kSglLengthAt);
}

TEST_CASE("a keyed descriptor must give the command's length, within MDTS") {
    QueuePairFixture f;
    plugin::TransportLimits limits = rdma_limits();
    limits.max_data_transfer = 64 * 1024;
    Association a(f, limits);
    check_refused(a.io.submit(read_sqe(0, 8, proto::keyed_sgl(0x10000, 2048, 0xabcdef01))), status::kSglLengthInvalid,
                  kSglLengthAt);
    check_refused(a.io.submit(read_sqe(0, 8, proto::keyed_sgl(0x10000, 8192, 0xabcdef01))), status::kSglLengthInvalid,
                  kSglLengthAt);
    // 128 KiB is over this transport's 64 KiB MDTS whatever the descriptor says.
    check_refused(a.io.submit(read_sqe(0, 256, proto::keyed_sgl(0x10000, 128 * 1024, 0xabcdef01))),
                  status::kInvalidField, kCdw12At);
    check_ok(a.io.submit(read_sqe(0, 128, proto::keyed_sgl(0x10000, 64 * 1024, 0xabcdef01))), 64 * 1024);
}

TEST_CASE("in-capsule data is checked the same way on an RDMA queue as on a TCP one") {
    for (bool keyed : {false, true}) {
        CAPTURE(keyed);
        QueuePairFixture f;
        Association a(f, keyed ? rdma_limits() : tcp_limits());
        check_ok(a.io.submit(write_sqe(0, 1, in_capsule_sgl(512)), std::vector<uint8_t>(512, 1)), 512);
        check_refused(a.io.submit(read_sqe(0, 1, in_capsule_sgl(512))), status::kSglTypeInvalid, kSglTypeAt);
        // 16 KiB does not fit the 8 KiB in-capsule data size.
        check_refused(a.io.submit(write_sqe(0, 32, in_capsule_sgl(16384))), status::kSglLengthInvalid, kSglAt);
    }
}

TEST_CASE("commands without data pass with the keyed null descriptor, key or not") {
    QueuePairFixture f;
    Association a(f, rdma_limits());
    check_ok(a.io.submit(flush_sqe(proto::keyed_sgl(0, 0, 0))), 0);  // as nvme_rdma_set_sg_null builds it
    check_ok(a.io.submit(flush_sqe(proto::keyed_sgl(0, 0, 0x7700aa01))), 0);
    check_refused(a.io.submit(flush_sqe(proto::keyed_sgl(0, 512, 0))), status::kSglLengthInvalid, kSglLengthAt);
}

TEST_CASE("Dataset Management takes a keyed descriptor's 24-bit length, as Linux's 4 KiB discard buffer") {
    QueuePairFixture f;
    SUBCASE("RDMA") {
        Association a(f, rdma_limits());
        check_ok(a.io.submit(deallocate_sqe(proto::keyed_sgl(0x20000, 4096, 0xabcdef12)), one_range(0, 8)), 4096);
        check_ok(a.io.submit(deallocate_sqe(proto::keyed_sgl(0x20000, 16, 0xabcdef12)), one_range(8, 8)), 16);
    }
    SUBCASE("TCP, unchanged") {
        Association a(f, tcp_limits());
        check_ok(a.io.submit(deallocate_sqe(tcp_transport_sgl(4096)), one_range(0, 8)), 4096);
        check_ok(a.io.submit(deallocate_sqe(in_capsule_sgl(16)), one_range(8, 8)), 16);
    }
}

TEST_CASE("Identify reports keyed SGL support only on a transport that uses keyed SGLs") {
    for (bool keyed : {false, true}) {
        CAPTURE(keyed);
        QueuePairFixture f;
        FakeQueue admin(f, keyed ? rdma_limits() : tcp_limits());
        REQUIRE(connect_admin(admin));
        auto id = admin.submit(identify_controller_sqe(admin.data_sgl(sizeof(proto::IdentifyController))));
        check_ok(id, sizeof(proto::IdentifyController));
        REQUIRE(id->data.size() == sizeof(proto::IdentifyController));
        proto::IdentifyController ctrl;
        std::memcpy(&ctrl, id->data.data(), sizeof ctrl);
        CHECK((ctrl.sgls & proto::idctrl::kSglsSupported) != 0);
        CHECK((ctrl.sgls & proto::idctrl::kSglsOffsetSupported) != 0);
        CHECK(((ctrl.sgls & proto::idctrl::kSglsKeyedSupported) != 0) == keyed);
        CHECK(ctrl.msdbd == 1);
    }
}

TEST_CASE("an error log entry names the transport of the queue the command came on") {
    for (bool keyed : {false, true}) {
        CAPTURE(keyed);
        QueuePairFixture f;
        FakeQueue admin(f, keyed ? rdma_limits() : tcp_limits());
        REQUIRE(connect_admin(admin));
        // Each queue's host sends the other transport's descriptor.
        proto::SglDescriptor wrong = keyed ? tcp_transport_sgl(4096) : proto::keyed_sgl(0x1000, 4096, 0);
        check_refused(admin.submit(identify_controller_sqe(wrong)), status::kSglTypeInvalid, kSglTypeAt);

        auto log = admin.submit(error_log_sqe(admin.data_sgl(sizeof(proto::ErrorLogEntry))));
        check_ok(log, sizeof(proto::ErrorLogEntry));
        REQUIRE(log->data.size() == sizeof(proto::ErrorLogEntry));
        proto::ErrorLogEntry e;
        std::memcpy(&e, log->data.data(), sizeof e);
        CHECK(e.trtype == uint8_t(keyed ? proto::TransportType::Rdma : proto::TransportType::Tcp));
        CHECK(proto::Status::from_cqe(e.status) == status::kSglTypeInvalid);
        CHECK(e.parameter_error_location == kSglTypeAt);
    }
}
