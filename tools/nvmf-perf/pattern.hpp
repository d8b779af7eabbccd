// The verify pattern: every logical block written in verify mode starts
// with its LBA, the run's seed and a write generation, followed by filler
// derived from those three. A read can then tell a misdirected block (wrong
// LBA), foreign data (wrong seed), a lost write (old generation) and
// corruption (filler) apart.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace nvmfd::perf {

struct BlockHeader {
    uint64_t lba;
    uint64_t seed;
    uint32_t generation;
    uint32_t magic;
    uint64_t reserved;
};
static_assert(sizeof(BlockHeader) == 32);
inline constexpr uint32_t kPatternMagic = 0x464d564e;  // "NVMF"

// `buffer` holds whole blocks of `block_size` (a multiple of 8, at least 32).
void fill_pattern(std::span<std::byte> buffer, uint32_t block_size, uint64_t first_lba, uint64_t seed,
                  uint32_t generation);

struct PatternMismatch {
    uint64_t lba;
    std::string what;
};
std::optional<PatternMismatch> check_pattern(std::span<const std::byte> buffer, uint32_t block_size,
                                             uint64_t first_lba, uint64_t seed, uint32_t generation);

}  // namespace nvmfd::perf
