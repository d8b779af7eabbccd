#include "tools/nvmf-perf/pattern.hpp"

#include <cstring>
#include <fmt/format.h>

namespace nvmfd::perf {

namespace {

// splitmix64: cheap, and every 64-bit state gives a different stream.
struct SplitMix {
    uint64_t state;
    uint64_t next() {
        uint64_t z = (state += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
};

uint64_t filler_state(uint64_t lba, uint64_t seed, uint32_t generation) {
    return lba * 0xd6e8feb86659fd93ull ^ seed ^ (uint64_t(generation) << 32 | generation);
}

}  // namespace

void fill_pattern(std::span<std::byte> buffer, uint32_t block_size, uint64_t first_lba, uint64_t seed,
                  uint32_t generation) {
    size_t blocks = buffer.size() / block_size;
    for (size_t b = 0; b < blocks; ++b) {
        std::byte* block = buffer.data() + b * block_size;
        BlockHeader h{first_lba + b, seed, generation, kPatternMagic, 0};
        std::memcpy(block, &h, sizeof h);
        SplitMix rng{filler_state(h.lba, seed, generation)};
        for (size_t at = sizeof h; at + 8 <= block_size; at += 8) {
            uint64_t word = rng.next();
            std::memcpy(block + at, &word, 8);
        }
    }
}

std::optional<PatternMismatch> check_pattern(std::span<const std::byte> buffer, uint32_t block_size,
                                             uint64_t first_lba, uint64_t seed, uint32_t generation) {
    size_t blocks = buffer.size() / block_size;
    for (size_t b = 0; b < blocks; ++b) {
        const std::byte* block = buffer.data() + b * block_size;
        uint64_t lba = first_lba + b;
        BlockHeader h;
        std::memcpy(&h, block, sizeof h);
        if (h.magic != kPatternMagic)
            return PatternMismatch{lba, fmt::format("no pattern header (magic {:#010x}, first word {:#018x})", h.magic,
                                                    h.lba)};
        if (h.lba != lba) return PatternMismatch{lba, fmt::format("block holds the data of LBA {}", h.lba)};
        if (h.seed != seed) return PatternMismatch{lba, fmt::format("block written by another run (seed {:#x})", h.seed)};
        if (h.generation != generation)
            return PatternMismatch{lba, fmt::format("block has write generation {}, expected {} (lost or stale write)",
                                                    h.generation, generation)};
        SplitMix rng{filler_state(lba, seed, generation)};
        for (size_t at = sizeof h; at + 8 <= block_size; at += 8) {
            uint64_t expected = rng.next();
            uint64_t got;
            std::memcpy(&got, block + at, 8);
            if (got != expected)
                return PatternMismatch{lba, fmt::format("corrupt data at byte {} of the block: {:#018x}, expected {:#018x}",
                                                        at, got, expected)};
        }
    }
    return std::nullopt;
}

}  // namespace nvmfd::perf
