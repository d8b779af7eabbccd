// Decoding namespace lists, descriptors, discovery entries and geometry.
#include <cstring>
#include <doctest/doctest.h>

#include "tools/host/errors.hpp"
#include "tools/host/parse.hpp"

using namespace nvmfd;
using namespace nvmfd::host;

TEST_CASE("active namespace list stops at the first zero") {
    std::vector<std::byte> page(4096);
    uint32_t ids[] = {1, 2, 7, 0, 9};
    std::memcpy(page.data(), ids, sizeof ids);
    CHECK(parse_namespace_list(page) == std::vector<uint32_t>{1, 2, 7});
    uint32_t bad[] = {3, 2};
    std::memcpy(page.data(), bad, sizeof bad);
    CHECK_THROWS_AS(parse_namespace_list(page), ProtocolError);
}

TEST_CASE("namespace descriptors") {
    std::vector<std::byte> page(4096);
    const uint8_t list[] = {3, 16, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 4, 1, 0, 0, 0};
    std::memcpy(page.data(), list, sizeof list);
    auto d = parse_namespace_descriptors(page);
    REQUIRE(d.size() == 2);
    CHECK(d[0].type == proto::NidType::Uuid);
    CHECK(d[0].id.size() == 16);
    CHECK(d[0].id[15] == 16);
    CHECK(d[1].type == proto::NidType::Csi);
    const uint8_t wrong[] = {2, 8, 0, 0};  // NGUID must be 16 bytes
    std::memcpy(page.data(), wrong, sizeof wrong);
    CHECK_THROWS_WITH_AS(parse_namespace_descriptors(page), doctest::Contains("NIDL 8, must be 16"), ProtocolError);
}

TEST_CASE("namespace geometry from FLBAS") {
    proto::IdentifyNamespace ns{};
    ns.nsze = 1000;
    ns.nlbaf = 1;
    ns.flbas = 1;
    ns.lbaf[0].lbads = 9;
    ns.lbaf[1].lbads = 12;
    NamespaceGeometry g = namespace_geometry(ns);
    CHECK(g.blocks == 1000);
    CHECK(g.block_size == 4096);
    ns.flbas = 2;
    CHECK_THROWS_AS(namespace_geometry(ns), ProtocolError);
}

TEST_CASE("discovery entries: padded strings trimmed") {
    proto::DiscoveryLogEntry e{};
    e.trtype = 3;
    e.adrfam = 1;
    e.subtype = 2;
    e.portid = 5;
    std::memset(e.traddr, ' ', sizeof e.traddr);
    std::memcpy(e.traddr, "10.0.0.1", 8);
    std::memset(e.trsvcid, ' ', sizeof e.trsvcid);
    std::memcpy(e.trsvcid, "4420", 4);
    std::memcpy(e.subnqn, "nqn.x", 5);
    std::vector<std::byte> records(sizeof e);
    std::memcpy(records.data(), &e, sizeof e);
    auto entries = parse_discovery_entries(records, 1);
    REQUIRE(entries.size() == 1);
    CHECK(entries[0].traddr == "10.0.0.1");
    CHECK(entries[0].trsvcid == "4420");
    CHECK(entries[0].subnqn == "nqn.x");
    CHECK(entries[0].subtype == proto::DiscoverySubtype::Nvme);
    CHECK(entries[0].portid == 5);
    CHECK_THROWS_AS(parse_discovery_entries(records, 2), ProtocolError);
}
