#include "plugins/backend_pcie/io_plan.hpp"

#include <algorithm>

#include "plugins/backend_pcie/drive_commands.hpp"

namespace nvmfd::plugins::pcie {
namespace {

using plugin::IoOp;

bool in_range(uint64_t offset, uint64_t length, const DriveShape& d) {
    if (offset % d.block_size || length % d.block_size) return false;
    const uint64_t first = offset / d.block_size, blocks = length / d.block_size;
    return first <= d.num_blocks && blocks <= d.num_blocks - first;
}

// Bytes per data command: the drive's limit and 65536 blocks, whole blocks.
uint64_t data_piece(const DriveShape& d) {
    const uint64_t by_nlb = uint64_t(kMaxBlocksPerCommand) * d.block_size;
    return d.piece_bytes ? std::min(d.piece_bytes, by_nlb) : by_nlb;
}

constexpr uint64_t kMaxDsmBlocks = 0xffffffffull;  // a DSM range's NLB is 32 bits

uint64_t dsm_entries(const plugin::BlockIo& io, const DriveShape& d) {
    uint64_t n = 0;
    for (uint32_t i = 0; i < io.range_count; ++i) {
        const uint64_t blocks = io.ranges[i].length / d.block_size;
        n += (blocks + kMaxDsmBlocks - 1) / kMaxDsmBlocks;
    }
    return n;
}

}  // namespace

PlanSize count_commands(const plugin::BlockIo& io, const DriveShape& d) {
    using plugin::IoStatus;
    const auto pieces = [](uint64_t n, uint64_t piece) { return size_t((n + piece - 1) / piece); };
    switch (io.op) {
    case IoOp::Read:
    case IoOp::Write:
        if (io.length == 0 || !in_range(io.offset, io.length, d)) return {IoStatus::InvalidRange, 0};
        return {IoStatus::Ok, pieces(io.length, data_piece(d))};
    case IoOp::WriteZeroes:
        if (!d.write_zeroes) return {IoStatus::NotSupported, 0};
        if (!in_range(io.offset, io.length, d)) return {IoStatus::InvalidRange, 0};
        return {IoStatus::Ok, pieces(io.length, uint64_t(kMaxBlocksPerCommand) * d.block_size)};
    case IoOp::Deallocate:
        if (!d.deallocate) return {IoStatus::NotSupported, 0};
        for (uint32_t i = 0; i < io.range_count; ++i)
            if (!in_range(io.ranges[i].offset, io.ranges[i].length, d)) return {IoStatus::InvalidRange, 0};
        return {IoStatus::Ok, pieces(dsm_entries(io, d), kMaxDsmRanges)};
    case IoOp::Flush:
        return {IoStatus::Ok, size_t(d.volatile_write_cache ? 1 : 0)};
    }
    return {IoStatus::NotSupported, 0};
}

void plan_commands(const plugin::BlockIo& io, const DriveShape& d, std::span<PlannedCommand> out) {
    // The caller's storage held an earlier plan: nothing of it may leak
    // into this one (a flush must not inherit a write's data).
    std::fill(out.begin(), out.end(), PlannedCommand{});
    size_t k = 0;
    switch (io.op) {
    case IoOp::Read:
    case IoOp::Write: {
        const auto op = io.op == IoOp::Read ? proto::IoOpcode::Read : proto::IoOpcode::Write;
        const uint64_t piece = data_piece(d);
        for (uint64_t done = 0; done < io.length && k < out.size(); done += piece, ++k) {
            const uint64_t bytes = std::min(piece, io.length - done);
            out[k].sqe = read_write(op, d.nsid, (io.offset + done) / d.block_size, uint32_t(bytes / d.block_size),
                                    io.fua && op == proto::IoOpcode::Write);
            out[k].data_offset = done;
            out[k].data_bytes = bytes;
        }
        break;
    }
    case IoOp::WriteZeroes: {
        const uint64_t piece = uint64_t(kMaxBlocksPerCommand) * d.block_size;
        for (uint64_t done = 0; done < io.length && k < out.size(); done += piece, ++k) {
            const uint64_t bytes = std::min(piece, io.length - done);
            out[k].sqe = write_zeroes(d.nsid, (io.offset + done) / d.block_size, uint32_t(bytes / d.block_size), false);
        }
        break;
    }
    case IoOp::Deallocate: {
        const uint64_t entries = dsm_entries(io, d);
        for (uint64_t first = 0; first < entries && k < out.size(); first += kMaxDsmRanges, ++k) {
            const uint32_t n = uint32_t(std::min<uint64_t>(kMaxDsmRanges, entries - first));
            out[k].sqe = deallocate(d.nsid, n);
            out[k].first_range = uint32_t(first);
            out[k].range_count = n;
        }
        break;
    }
    case IoOp::Flush:
        if (d.volatile_write_cache && !out.empty()) out[0].sqe = flush(d.nsid);
        break;
    }
}

void dsm_ranges(const plugin::BlockIo& io, const DriveShape& d, uint32_t first, uint32_t count,
                std::span<proto::DsmRange> list) {
    uint64_t index = 0;  // of the expanded entry
    size_t n = 0;
    for (uint32_t i = 0; i < io.range_count && n < count && n < list.size(); ++i) {
        uint64_t lba = io.ranges[i].offset / d.block_size, blocks = io.ranges[i].length / d.block_size;
        while (blocks > 0 && n < count && n < list.size()) {
            const uint64_t take = std::min(blocks, kMaxDsmBlocks);
            if (index >= first) list[n++] = proto::DsmRange{0, uint32_t(take), lba};
            ++index;
            lba += take;
            blocks -= take;
        }
    }
}

}  // namespace nvmfd::plugins::pcie
