// Splitting a transfer larger than the drive takes in one command (MDTS,
// Identify Controller byte 77: a power of two in units of the minimum
// memory page size, CAP.MPSMIN; 0 means no limit) into pieces, each a whole
// number of blocks, and the data segments of each piece.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "plugins/backend_pcie/prp.hpp"

namespace nvmfd::plugins::pcie {

// The largest transfer in bytes; 0: no limit.
uint64_t max_transfer_bytes(uint8_t mdts, uint32_t min_page_size);

// The byte length of each piece but the last: `max` rounded down to whole
// blocks (0 when `max` is 0: one piece). Never 0 for a usable drive.
uint64_t piece_bytes(uint64_t max, uint32_t block_size);

// How many pieces a transfer of `bytes` takes.
size_t piece_count(uint64_t bytes, uint64_t piece);

// The segments that hold bytes [offset, offset + len) of `in`, into `out`;
// returns how many, or 0 when `out` is too short or the range is not in `in`.
size_t slice_segments(std::span<const DmaSegment> in, uint64_t offset, uint64_t len, std::span<DmaSegment> out);

}  // namespace nvmfd::plugins::pcie
