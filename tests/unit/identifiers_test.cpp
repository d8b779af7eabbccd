#include <doctest/doctest.h>

#include "core/target/identifiers.hpp"

using namespace nvmfd::target;

TEST_CASE("generated UUIDs are version 4 and round trip through text") {
    Uuid a = generate_uuid(), b = generate_uuid();
    CHECK(a != b);
    CHECK((a[6] >> 4) == 4);
    CHECK((a[8] & 0xc0) == 0x80);
    std::string text = format_uuid(a);
    CHECK(text.size() == 36);
    CHECK(parse_uuid(text) == a);
    CHECK_FALSE(parse_uuid("0123456789abcdef0123456789abcdef"));  // dashes required
    CHECK_FALSE(parse_uuid("zz234567-89ab-cdef-0123-456789abcdef"));
}

TEST_CASE("NGUIDs are 16 bytes of hex") {
    Nguid n = generate_nguid();
    std::string hex = format_hex(n);
    CHECK(hex.size() == 32);
    CHECK(parse_hex16(hex) == n);
    CHECK_FALSE(parse_hex16(hex.substr(1)));
    CHECK_FALSE(parse_hex16(hex + "00"));
}
