#include <doctest/doctest.h>

#include "core/plugin/params.hpp"
#include "core/runtime/byte_size.hpp"

using namespace nvmfd::plugin;

TEST_CASE("sizes with binary suffixes") {
    CHECK(*parse_size("4096", "s") == 4096);
    CHECK(*parse_size("64K", "s") == 65536);
    CHECK(*parse_size("1G", "s") == (1ull << 30));
    CHECK(*parse_size("1GiB", "s") == (1ull << 30));
    CHECK(*parse_size("2t", "s") == (2ull << 40));
    CHECK(*parse_size("512B", "s") == 512);
}

TEST_CASE("bad sizes name the field") {
    for (const char* bad : {"", "G", "1.5G", "-1", "12Q", "99999999999999999999"}) {
        auto r = parse_size(bad, "size");
        CHECK_FALSE(r);
        if (!r) CHECK(r.error().field == "size");
    }
    CHECK_FALSE(parse_size("20000000000T", "size"));  // overflows 64 bits
}

TEST_CASE("booleans") {
    CHECK(*parse_bool("true", "b"));
    CHECK_FALSE(*parse_bool("off", "b"));
    CHECK_FALSE(parse_bool("maybe", "b"));
}

// The other direction, for log lines and descriptions: exact, in the largest unit that divides it.
TEST_CASE("byte_size_text: the largest binary unit that divides the size exactly") {
    using nvmfd::runtime::byte_size_text;
    CHECK(byte_size_text(0) == "0 bytes");
    CHECK(byte_size_text(512) == "512 bytes");
    CHECK(byte_size_text(1024) == "1 KiB");
    CHECK(byte_size_text(1536 * 1024) == "1536 KiB");
    CHECK(byte_size_text(64ull << 20) == "64 MiB");
    CHECK(byte_size_text((64ull << 20) + 512) == "67109376 bytes");
    CHECK(byte_size_text(3ull << 40) == "3 TiB");
    CHECK(byte_size_text(2048ull << 50) == "2048 PiB");
}
