// Key text decoding against keys nvme-cli 2.3 wrote (`nvme gen-dhchap-key
// -s <hex> -l N -m H -n NQN`), and the CRC checked with Python's zlib.
#include <doctest/doctest.h>

#include "core/auth/key_text.hpp"

using namespace nvmfd;

namespace {

std::vector<uint8_t> hex(std::string_view h) {
    std::vector<uint8_t> out;
    for (size_t i = 0; i + 1 < h.size(); i += 2) out.push_back(uint8_t(std::stoi(std::string(h.substr(i, 2)), nullptr, 16)));
    return out;
}

}  // namespace

TEST_CASE("DHHC-1 keys written by nvme-cli decode to their bytes") {
    auto k = auth::decode_key_text("DHHC-1:01:a04E0in/h9rGUwyRPirk0EHWZb3S2iivAU0Om4iZUmeoR5Bg:", "DHHC-1", "dhchap-secret");
    REQUIRE(k);
    CHECK(k->hash == 1);
    CHECK(k->key == hex("6b4e04d229ff87dac6530c913e2ae4d041d665bdd2da28af014d0e9b88995267"));

    auto k48 = auth::decode_key_text(
        "DHHC-1:02:s1vPL9QPWpgaMKheaWXLag5gM9yMilZs0oiLPa5lt3RKjVeuHd5ZjNtAEmNRlOLsjS4dXg==:", "DHHC-1", "f");
    REQUIRE(k48);
    CHECK(k48->hash == 2);
    CHECK(k48->key.size() == 48);

    auto k64 = auth::decode_key_text(
        "DHHC-1:03:ExSYT6vLIFcbzjCFJq8W/gGwV7xN/xxxodkzURy32mMGGf8uLkbXmfNQpfT6EsyX4M/Ehu8LE76nuHifwvqdiBX8uko=:",
        "DHHC-1", "f");
    REQUIRE(k64);
    CHECK(k64->hash == 3);
    CHECK(k64->key.size() == 64);
}

TEST_CASE("encoding is the inverse of decoding, as nvme-cli writes it") {
    auto k = hex("6b4e04d229ff87dac6530c913e2ae4d041d665bdd2da28af014d0e9b88995267");
    CHECK(auth::encode_key_text("DHHC-1", 1, k) == "DHHC-1:01:a04E0in/h9rGUwyRPirk0EHWZb3S2iivAU0Om4iZUmeoR5Bg:");
}

TEST_CASE("bad key text is refused with the field and the reason") {
    auto why = [](std::string_view text) {
        auto r = auth::decode_key_text(text, "DHHC-1", "dhchap-secret");
        REQUIRE_FALSE(r);
        CHECK(r.error().field == "dhchap-secret");
        return r.error().message;
    };
    CHECK(why("DHHC-2:01:a04E0in/h9rGUwyRPirk0EHWZb3S2iivAU0Om4iZUmeoR5Bg:").find("does not start") != std::string::npos);
    CHECK(why("DHHC-1:07:a04E0in/h9rGUwyRPirk0EHWZb3S2iivAU0Om4iZUmeoR5Bg:").find("unknown hash") != std::string::npos);
    CHECK(why("DHHC-1:1:a04E0in/h9rGUwyRPirk0EHWZb3S2iivAU0Om4iZUmeoR5Bg:").find("two digits") != std::string::npos);
    // One character changed: the CRC catches it.
    CHECK(why("DHHC-1:01:a04E0in/h9rGUwyRPirk0EHWZb3S2iivAU0Om4iZUmeoR5Bh:").find("CRC") != std::string::npos);
    CHECK(why("DHHC-1:01:a04E0in/h9rGUwyRPirk0EHWZb3S2iivAU0Om4iZUmeo:").find("32, 48 or 64") != std::string::npos);
    CHECK(why("DHHC-1:01:a04E0in/h9rGUwyRPirk0EHWZb3S2iivAU0Om4iZUme:").find("length") != std::string::npos);
    CHECK(why("DHHC-1:01:a04E0in/h9rGUwyRPirk0EHWZb3S2iivAU0Om4iZUme!R5Bg:").find("base64") != std::string::npos);
    CHECK(why("DHHC-1:01:").find("length") != std::string::npos);
    CHECK(why("").find("does not start") != std::string::npos);
}
