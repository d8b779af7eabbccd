// The verify pattern tells the kinds of wrong data apart.
#include <doctest/doctest.h>
#include <vector>

#include "tools/nvmf-perf/pattern.hpp"

using namespace nvmfd::perf;

TEST_CASE("pattern round trip and each kind of mismatch") {
    std::vector<std::byte> buf(8 * 512);
    fill_pattern(buf, 512, 1000, 0xabc, 3);
    CHECK_FALSE(check_pattern(buf, 512, 1000, 0xabc, 3));

    auto mismatch = check_pattern(buf, 512, 1001, 0xabc, 3);
    REQUIRE(mismatch);
    CHECK(mismatch->lba == 1001);
    CHECK(mismatch->what.find("LBA 1000") != std::string::npos);

    mismatch = check_pattern(buf, 512, 1000, 0xabd, 3);
    REQUIRE(mismatch);
    CHECK(mismatch->what.find("another run") != std::string::npos);

    mismatch = check_pattern(buf, 512, 1000, 0xabc, 4);
    REQUIRE(mismatch);
    CHECK(mismatch->what.find("generation 3, expected 4") != std::string::npos);

    buf[5 * 512 + 100] ^= std::byte{1};
    mismatch = check_pattern(buf, 512, 1000, 0xabc, 3);
    REQUIRE(mismatch);
    CHECK(mismatch->lba == 1005);
    CHECK(mismatch->what.find("corrupt data at byte 96") != std::string::npos);

    std::vector<std::byte> zeroes(4096);
    mismatch = check_pattern(zeroes, 4096, 0, 1, 1);
    REQUIRE(mismatch);
    CHECK(mismatch->what.find("no pattern header") != std::string::npos);
}

TEST_CASE("different generations and LBAs give different data") {
    std::vector<std::byte> a(512), b(512);
    fill_pattern(a, 512, 7, 1, 1);
    fill_pattern(b, 512, 7, 1, 2);
    CHECK(a != b);
    fill_pattern(b, 512, 8, 1, 1);
    CHECK(std::vector(a.begin() + 32, a.end()) != std::vector(b.begin() + 32, b.end()));
}
