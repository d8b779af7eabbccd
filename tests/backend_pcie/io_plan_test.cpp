// BlockIos as drive commands (issue 13): reads and writes split at MDTS and
// at 65536 blocks, each piece's data; write zeroes; deallocate in Dataset
// Management commands of at most 256 ranges; flush only with a volatile
// cache; refusals as the status the BlockIo completes with.
#include <doctest/doctest.h>

#include <cstring>
#include <vector>

#include "plugins/backend_pcie/drive_commands.hpp"
#include "plugins/backend_pcie/io_plan.hpp"

using namespace nvmfd::plugins::pcie;
using nvmfd::plugin::BlockIo;
using nvmfd::plugin::ByteRange;
using nvmfd::plugin::IoOp;
using nvmfd::plugin::IoStatus;
namespace proto = nvmfd::proto;

namespace {

DriveShape qemu_like() {
    DriveShape d;
    d.nsid = 1;
    d.block_size = 512;
    d.num_blocks = 131072;          // 64 MiB
    d.piece_bytes = 512 * 1024;     // MDTS 7 with 4 KiB pages
    d.volatile_write_cache = true;
    d.write_zeroes = true;
    d.deallocate = true;
    return d;
}

std::vector<PlannedCommand> plan(const BlockIo& io, const DriveShape& d) {
    auto n = count_commands(io, d);
    REQUIRE(n.status == IoStatus::Ok);
    std::vector<PlannedCommand> out(n.commands);
    plan_commands(io, d, out);
    return out;
}

uint64_t slba(const proto::Sqe& s) { return s.cdw10 | uint64_t(s.cdw11) << 32; }
uint32_t nlb(const proto::Sqe& s) { return (s.cdw12 & 0xffff) + 1; }

}  // namespace

TEST_CASE("io plan: a 1 MiB write is two 512 KiB writes at the right LBAs and data, FUA on each") {
    BlockIo io;
    io.op = IoOp::Write;
    io.offset = 4096;
    io.length = 1 << 20;
    io.fua = true;
    auto cmds = plan(io, qemu_like());
    REQUIRE(cmds.size() == 2);
    CHECK(cmds[0].sqe.opcode == 0x01);
    CHECK(slba(cmds[0].sqe) == 8);
    CHECK(nlb(cmds[0].sqe) == 1024);
    CHECK(cmds[0].data_offset == 0);
    CHECK(cmds[0].data_bytes == 512 * 1024);
    CHECK(slba(cmds[1].sqe) == 8 + 1024);
    CHECK(cmds[1].data_offset == 512 * 1024);
    CHECK((cmds[1].sqe.cdw12 & 1u << 30));
    // Without a drive limit, 65536 blocks still cap one command.
    DriveShape d = qemu_like();
    d.piece_bytes = 0;
    io.length = 40ull << 20;  // 81920 blocks
    io.offset = 0;
    cmds = plan(io, d);
    REQUIRE(cmds.size() == 2);
    CHECK(nlb(cmds[0].sqe) == 65536);
    CHECK(nlb(cmds[1].sqe) == 81920 - 65536);
    // A read never carries FUA.
    io.op = IoOp::Read;
    cmds = plan(io, d);
    CHECK(cmds[0].sqe.opcode == 0x02);
    CHECK_FALSE((cmds[0].sqe.cdw12 & 1u << 30));
}

TEST_CASE("io plan: write zeroes, flush and deallocate") {
    DriveShape d = qemu_like();
    BlockIo z;
    z.op = IoOp::WriteZeroes;
    z.offset = 0;
    z.length = 64ull << 20;  // 131072 blocks: two commands
    auto cmds = plan(z, d);
    REQUIRE(cmds.size() == 2);
    CHECK(cmds[0].sqe.opcode == 0x08);
    CHECK(nlb(cmds[1].sqe) == 65536);
    BlockIo f;
    f.op = IoOp::Flush;
    CHECK(plan(f, d).size() == 1);
    d.volatile_write_cache = false;
    CHECK(count_commands(f, d).commands == 0);  // nothing to flush: completes at once

    d = qemu_like();
    std::vector<ByteRange> ranges;
    for (int i = 0; i < 300; ++i) ranges.push_back({uint64_t(i) * 8192, 4096});
    BlockIo a;
    a.op = IoOp::Deallocate;
    a.ranges = ranges.data();
    a.range_count = uint32_t(ranges.size());
    cmds = plan(a, d);
    REQUIRE(cmds.size() == 2);
    CHECK(cmds[0].sqe.opcode == 0x09);
    CHECK(cmds[0].range_count == 256);
    CHECK(cmds[1].first_range == 256);
    CHECK(cmds[1].range_count == 44);
    CHECK((cmds[1].sqe.cdw10 & 0xff) == 43);
    std::vector<proto::DsmRange> list(256);
    dsm_ranges(a, d, cmds[1].first_range, cmds[1].range_count, list);
    CHECK(list[0].slba == 256 * 16);
    CHECK(list[0].nlb == 8);
    CHECK(list[43].slba == 299 * 16);
}

TEST_CASE("io plan: what the drive cannot do, or what is past the end, completes with that status") {
    DriveShape d = qemu_like();
    BlockIo io;
    io.op = IoOp::Read;
    io.offset = (64ull << 20) - 512;
    io.length = 1024;  // one block past the end
    CHECK(count_commands(io, d).status == IoStatus::InvalidRange);
    io.offset = 100;  // not a whole block
    io.length = 512;
    CHECK(count_commands(io, d).status == IoStatus::InvalidRange);
    io.offset = 0;
    io.length = 64ull << 20;  // exactly the namespace
    CHECK(count_commands(io, d).status == IoStatus::Ok);
    d.write_zeroes = false;
    io.op = IoOp::WriteZeroes;
    CHECK(count_commands(io, d).status == IoStatus::NotSupported);
    d.deallocate = false;
    io.op = IoOp::Deallocate;
    CHECK(count_commands(io, d).status == IoStatus::NotSupported);
}
