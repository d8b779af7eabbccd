// A byte count as an admin reads it in a log line or a description: the
// largest binary unit that divides it exactly ("64 MiB", "1536 KiB",
// "4097 bytes"), so what is printed is the exact size.
#pragma once

#include <cstdint>
#include <iterator>
#include <string>

#include <fmt/format.h>

namespace nvmfd::runtime {

inline std::string byte_size_text(uint64_t bytes) {
    static constexpr const char* kUnits[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB"};
    unsigned u = 0;
    while (u + 1 < std::size(kUnits) && bytes >= (1024ull << (10 * u)) && bytes % (1ull << (10 * (u + 1))) == 0) ++u;
    if (u == 0) return fmt::format("{} bytes", bytes);
    return fmt::format("{} {}", bytes >> (10 * u), kUnits[u]);
}

}  // namespace nvmfd::runtime
