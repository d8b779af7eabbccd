// The SQEs the PCIe backend sends (issue 13): each field where the spec
// puts it; Identify data read back; refusals for namespaces nvmfd cannot
// serve.
#include <doctest/doctest.h>

#include <cstring>

#include "plugins/backend_pcie/drive_commands.hpp"

using namespace nvmfd::plugins::pcie;
namespace proto = nvmfd::proto;

namespace {
// The SQE as the drive reads it: dword n.
uint32_t dw(const proto::Sqe& s, int n) {
    uint32_t v;
    std::memcpy(&v, reinterpret_cast<const char*>(&s) + 4 * n, 4);
    return v;
}
}  // namespace

TEST_CASE("drive commands: admin commands with their fields where the spec puts them") {
    auto s = identify_controller(0x123000);
    CHECK(s.opcode == 0x06);
    CHECK(dw(s, 10) == 1);
    CHECK(dw(s, 6) == 0x123000);  // PRP1: dwords 6-7
    CHECK(dw(s, 8) == 0);         // PRP2
    CHECK((s.flags >> 6) == 0);   // PSDT: PRPs
    s = identify_namespace(3, 0x5000);
    CHECK(dw(s, 1) == 3);
    CHECK(dw(s, 10) == 0);
    s = set_number_of_queues(4);
    CHECK(s.opcode == 0x09);
    CHECK(dw(s, 10) == 0x07);
    CHECK(dw(s, 11) == (3u << 16 | 3u));
    s = create_io_cq(2, 256, 0xabc000, true, 2);
    CHECK(s.opcode == 0x05);
    CHECK(dw(s, 10) == (255u << 16 | 2u));
    CHECK(dw(s, 11) == (2u << 16 | 1u << 1 | 1u));
    CHECK(prp1_of(s) == 0xabc000);
    s = create_io_cq(2, 256, 0xabc000, false, 7);  // polled: no vector, IEN 0
    CHECK(dw(s, 11) == 1u);
    s = create_io_sq(2, 256, 0xdef000, 2);
    CHECK(s.opcode == 0x01);
    CHECK(dw(s, 10) == (255u << 16 | 2u));
    CHECK(dw(s, 11) == (2u << 16 | 1u));
    CHECK(delete_io_sq(5).opcode == 0x00);
    CHECK(dw(delete_io_cq(5), 10) == 5);
    s = abort_command(3, 0x1234);
    CHECK(s.opcode == 0x08);
    CHECK(dw(s, 10) == (0x1234u << 16 | 3u));
    CHECK(async_event_request().opcode == 0x0c);
    s = set_async_event_config(0x1ff);
    CHECK(s.opcode == 0x09);
    CHECK(dw(s, 10) == 0x0b);
    CHECK(dw(s, 11) == 0x1ff);
    s = get_log_page(proto::LogPageId::SmartHealth, 0xffffffff, 512, 0x7000);
    CHECK(s.opcode == 0x02);
    CHECK(dw(s, 1) == 0xffffffff);
    CHECK(dw(s, 10) == (127u << 16 | 0x02));  // NUMDL 0's based, RAE 0: reading ends the event
    CHECK(dw(s, 11) == 0);
    CHECK(prp1_of(s) == 0x7000);
    CHECK(dw(get_log_page(proto::LogPageId::ChangedNamespaceList, 0, 4096, 0x7000), 10) == (1023u << 16 | 0x04));
}

TEST_CASE("drive commands: reads, writes, write zeroes, deallocate, flush") {
    auto s = read_write(proto::IoOpcode::Write, 1, 0x1'2345'6789ull, 256, true);
    CHECK(s.opcode == 0x01);
    CHECK(dw(s, 10) == 0x23456789u);
    CHECK(dw(s, 11) == 0x1u);
    CHECK(dw(s, 12) == (255u | 1u << 30));
    s = read_write(proto::IoOpcode::Read, 1, 8, 1, false);
    CHECK(s.opcode == 0x02);
    CHECK(dw(s, 12) == 0);
    set_prp(s, 0x1000, 0x2000);
    CHECK(prp1_of(s) == 0x1000);
    CHECK(prp2_of(s) == 0x2000);
    s = write_zeroes(1, 0, 16, true);
    CHECK(s.opcode == 0x08);
    CHECK(dw(s, 12) == (15u | 1u << 25));
    s = deallocate(1, 3);
    CHECK(s.opcode == 0x09);
    CHECK(dw(s, 10) == 2);
    CHECK(dw(s, 11) == 4);
    CHECK(flush(1).opcode == 0x00);
    CHECK(flush(1).nsid == 1);
}

TEST_CASE("drive commands: Identify read back; namespaces nvmfd cannot serve refused") {
    proto::IdentifyController c{};
    std::memcpy(c.mn, "QEMU NVMe Ctrl                          ", 40);
    std::memcpy(c.sn, "deadbeef01          ", 20);
    std::memcpy(c.fr, "7.2.22  ", 8);
    c.mdts = 7;
    c.nn = 256;
    c.oncs = oncs::kDatasetManagement | oncs::kWriteZeroes;
    c.vwc = 1;
    c.acl = 3;
    auto d = parse_identify_controller(c);
    CHECK(d.model == "QEMU NVMe Ctrl");
    CHECK(d.serial == "deadbeef01");
    CHECK(d.firmware == "7.2.22");
    CHECK(d.mdts == 7);
    CHECK(d.supports(oncs::kWriteZeroes));
    CHECK_FALSE(d.supports(oncs::kCompare));
    CHECK(d.volatile_write_cache);
    CHECK(d.abort_limit == 4);

    proto::IdentifyNamespace n{};
    n.nsze = 131072;
    n.nlbaf = 1;
    n.flbas = 1;
    n.lbaf[0].lbads = 9;
    n.lbaf[1].lbads = 12;
    auto g = parse_identify_namespace(n, 1);
    REQUIRE(g);
    CHECK(g->blocks == 131072);
    CHECK(g->block_size == 4096);
    n.lbaf[1].ms = 8;
    auto r = parse_identify_namespace(n, 1);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == nvmfd::ErrorCode::NotSupported);
    n.nsze = 0;
    r = parse_identify_namespace(n, 9);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == nvmfd::ErrorCode::NotFound);
    CHECK(r.error().field == "nsid");

    CHECK(granted_queue_pairs(0x003f003f) == 64);  // QEMU grants its maximum whatever was asked
    CHECK(granted_queue_pairs(0x00070003) == 4);
}
