// FC addresses as nvme-cli and nvmet spell them (plugins/transport_fc).
#include <doctest/doctest.h>

#include "plugins/transport_fc/fc_address.hpp"

using nvmfd::plugins::fc::format_fc_address;
using nvmfd::plugins::fc::parse_fc_address;

TEST_CASE("fc address: nn-0x<WWNN>:pn-0x<WWPN> read in either case and written as nvmet shows it") {
    auto a = parse_fc_address("NN-0x10001100AB000001:pn-0X20001100ab000001");
    REQUIRE(a);
    CHECK(a->wwnn == 0x10001100ab000001ull);
    CHECK(a->wwpn == 0x20001100ab000001ull);
    CHECK(format_fc_address(*a) == "nn-0x10001100ab000001:pn-0x20001100ab000001");
    CHECK(parse_fc_address(format_fc_address({1, 2}))->wwpn == 2);
}

TEST_CASE("fc address: what is not one is refused, naming the field") {
    for (const char* bad : {"", "nn-0x10001100ab000001", "nn-0x10001100ab00001:pn-0x20001100ab000001",
                            "nn-0x10001100ab0000011:pn-0x20001100ab000001", "pn-0x20001100ab000001:nn-0x10001100ab000001",
                            "nn-0x10001100ab00000g:pn-0x20001100ab000001", "nn-10001100ab000001:pn-0x20001100ab000001",
                            "nn-0x0000000000000000:pn-0x20001100ab000001", "127.0.0.1"}) {
        auto r = parse_fc_address(bad, "ports[0].address");
        REQUIRE_FALSE_MESSAGE(r, bad);
        CHECK(r.error().field == "ports[0].address");
        CHECK(r.error().code == nvmfd::ErrorCode::InvalidArgument);
    }
}
