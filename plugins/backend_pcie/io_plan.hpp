// A backend operation (BlockIo: bytes) as the commands a drive takes
// (blocks): reads and writes split at the drive's transfer limit (MDTS) and
// at 65536 blocks (NLB is 16 bits), each piece's data segments; write
// zeroes split at 65536 blocks; deallocate as Dataset Management commands of
// at most 256 ranges of at most 2^32 - 1 blocks; flush as one command, or
// none when the drive has no volatile write cache. The caller completes the
// BlockIo when the last of its commands has (docs/pcie-design.md 6.3-6.4).
#pragma once

#include <cstdint>
#include <span>

#include "core/plugin/backend.hpp"
#include "core/proto/nvme.hpp"
#include "plugins/backend_pcie/prp.hpp"

namespace nvmfd::plugins::pcie {

struct DriveShape {
    uint32_t nsid = 1;
    uint32_t block_size = 512;
    uint64_t num_blocks = 0;
    uint64_t piece_bytes = 0;  // the most one data command carries (MDTS in whole blocks); 0: no limit
    bool volatile_write_cache = false;
    bool write_zeroes = false;  // ONCS
    bool deallocate = false;    // ONCS Dataset Management
};

// One command of a plan: its SQE without PRPs, and for data commands which
// bytes of the BlockIo's data it carries; for Dataset Management, which of
// the BlockIo's ranges (the range list is built by the caller into the
// command's DMA page with dsm_ranges()).
struct PlannedCommand {
    proto::Sqe sqe{};
    uint64_t data_offset = 0;
    uint64_t data_bytes = 0;
    uint32_t first_range = 0;
    uint32_t range_count = 0;
};

inline constexpr uint32_t kMaxBlocksPerCommand = 65536;
inline constexpr uint32_t kMaxDsmRanges = 256;

// How many commands `io` takes (0: nothing to send, e.g. a flush without a
// volatile cache), or the status to complete it with at once: InvalidRange
// for a range beyond the namespace or not in whole blocks, NotSupported for
// an operation the drive lacks.
struct PlanSize {
    plugin::IoStatus status = plugin::IoStatus::Ok;
    size_t commands = 0;
};
PlanSize count_commands(const plugin::BlockIo& io, const DriveShape& d);

// Fills out[0..count) (sized by count_commands).
void plan_commands(const plugin::BlockIo& io, const DriveShape& d, std::span<PlannedCommand> out);

// The Dataset Management range list for ranges [first, first + count) of
// `io` (16 bytes each: attributes, NLB, SLBA), into `list`.
void dsm_ranges(const plugin::BlockIo& io, const DriveShape& d, uint32_t first, uint32_t count,
                std::span<proto::DsmRange> list);

}  // namespace nvmfd::plugins::pcie
