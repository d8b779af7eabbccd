// The child half of the crash test: what it writes, and its entry point,
// which main() calls when the test binary is re-executed with the flag.
#pragma once

#include <cstdint>
#include <string>

namespace nvmfd::test_uring {

inline constexpr const char* kCrashChildFlag = "--uring-crash-child";

struct CrashRegion {
    uint64_t offset;
    uint32_t length;
    uint32_t seed;
    bool fua;
};

inline constexpr CrashRegion kCrashRegions[] = {
    {0, 4096, 1, false},
    {512 * 9, 512 * 3, 2, false},
    {1u << 20, 1u << 20, 3, false},
    {(4u << 20) + 4096, 128u << 10, 4, true},
    {(16u << 20) - 512, 512, 5, false},
};

int crash_child(const std::string& path, const std::string& direct, int report_fd);

}  // namespace nvmfd::test_uring
