#include <doctest/doctest.h>

#include <cstring>
#include <vector>

#include "core/proto/crc32c.hpp"

using namespace nvmfd::proto;

TEST_CASE("crc32c matches the Castagnoli check value") {
    // The standard check value of CRC-32C ("123456789").
    CHECK(crc32c("123456789", 9) == 0xe3069283u);
    CHECK(crc32c("", 0) == 0u);
}

TEST_CASE("crc32c over a scatter list equals the flat digest, for any split") {
    std::vector<uint8_t> data(10000);
    for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i * 31 + 7);
    uint32_t flat = crc32c(data.data(), data.size());
    for (size_t cut : {1u, 7u, 4096u, 9999u}) {
        iovec iov[2] = {{data.data(), cut}, {data.data() + cut, data.size() - cut}};
        CHECK(crc32c(std::span<const iovec>(iov, 2), data.size()) == flat);
    }
    // Only the first `len` bytes count.
    iovec whole{data.data(), data.size()};
    CHECK(crc32c(std::span<const iovec>(&whole, 1), 100) == crc32c(data.data(), 100));
}

TEST_CASE("streaming crc32c equals the one-shot digest") {
    const char* s = "The quick brown fox jumps over the lazy dog";
    uint32_t c = kCrc32cInit;
    c = crc32c_update(c, s, 10);
    c = crc32c_update(c, s + 10, std::strlen(s) - 10);
    CHECK(crc32c_final(c) == crc32c(s, std::strlen(s)));
    CHECK(crc32c(s, std::strlen(s)) == 0x22620404u);
}
