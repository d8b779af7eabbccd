// The transport's PSK binder check (plugins/transport_tcp/tls_binder.*)
// against ClientHellos OpenSSL's own client writes: the binder it finds is
// the one OpenSSL computed for that PSK, and no other PSK matches it.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "plugins/transport_tcp/tls_binder.hpp"
#include "tests/tls_client_hello.hpp"

using namespace nvmfd::plugins::tcp;
using nvmfd::testing::client_hello;
using nvmfd::testing::PskOffer;

TEST_CASE("tls binder: the binder OpenSSL's client sent is found and matches only its PSK") {
    for (size_t len : {32ul, 48ul}) {
        CAPTURE(len);
        PskOffer o{"NVMe0R0" + std::to_string(len == 48 ? 2 : 1) + " nqn.host nqn.sub", std::vector<uint8_t>(len, 0x5a)};
        auto ch = client_hello(o);
        REQUIRE(!ch.empty());
        auto b = find_psk_binder(ch, o.identity);
        REQUIRE(b);
        CHECK(b->binder.size() == len);
        CHECK(binder_matches(o.psk, len == 48, *b));
        auto other = o.psk;
        other[7] ^= 1;
        CHECK_FALSE(binder_matches(other, len == 48, *b));
        CHECK_FALSE(binder_matches(o.psk, len != 48, *b));  // the other hash
        CHECK_FALSE(find_psk_binder(ch, "NVMe0R01 nqn.other nqn.sub"));
        // A cut or padded message is no ClientHello.
        CHECK_FALSE(find_psk_binder(std::span(ch).first(ch.size() - 1), o.identity));
        auto longer = ch;
        longer.push_back(0);
        CHECK_FALSE(find_psk_binder(longer, o.identity));
    }
}
