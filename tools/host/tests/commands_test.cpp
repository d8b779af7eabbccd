// SQE encodings of the command builders.
#include <cstring>
#include <doctest/doctest.h>
#include <stdexcept>

#include "core/proto/fabrics.hpp"
#include "tools/host/commands.hpp"
#include "tools/host/host_identity.hpp"

using namespace nvmfd;
using namespace nvmfd::host;

TEST_CASE("read and write encode SLBA and a 0's based NLB") {
    proto::Sqe r = cmd::read(3, 0x1'0000'0002ull, 8, true);
    CHECK(r.opcode == 0x02);
    CHECK(r.nsid == 3);
    CHECK(r.cdw10 == 2);
    CHECK(r.cdw11 == 1);
    CHECK((r.cdw12 & 0xffff) == 7);
    CHECK((r.cdw12 & (1u << 30)) != 0);
    CHECK(cmd::write(1, 0, 1).cdw12 == 0);
    CHECK(cmd::write(1, 0, 65536).cdw12 == 0xffff);
    CHECK_THROWS_AS(cmd::read(1, 0, 0), std::invalid_argument);
    CHECK_THROWS_AS(cmd::read(1, 0, 65537), std::invalid_argument);
    CHECK((cmd::write_zeroes(1, 0, 4, true).cdw12 & (1u << 25)) != 0);
}

TEST_CASE("get log page splits NUMD and carries the offset") {
    proto::Sqe s = cmd::get_log_page(0x70, 1 << 20, 0x1'0000'0400ull, 0, 0, true);
    uint32_t numd = (1u << 20) / 4 - 1;
    CHECK((s.cdw10 & 0xff) == 0x70);
    CHECK((s.cdw10 >> 16) == (numd & 0xffff));
    CHECK(s.cdw11 == (numd >> 16));
    CHECK((s.cdw10 & (1u << 15)) != 0);  // RAE
    CHECK(s.cdw12 == 0x400);
    CHECK(s.cdw13 == 1);
    CHECK_THROWS_AS(cmd::get_log_page(2, 6), std::invalid_argument);
}

TEST_CASE("identify, features, dataset management") {
    proto::Sqe id = cmd::identify(proto::IdentifyCns::NamespaceDescriptorList, 5, 0x12, 0);
    CHECK(id.opcode == 0x06);
    CHECK(id.nsid == 5);
    CHECK(id.cdw10 == (3u | (0x12u << 16)));
    proto::Sqe gf = cmd::get_features(0x07, proto::FeatureSelect::Default);
    CHECK(gf.cdw10 == (0x07u | (1u << 8)));
    proto::Sqe sf = cmd::set_features(0x0f, 5000, true);
    CHECK(sf.cdw10 == (0x0fu | (1u << 31)));
    CHECK(sf.cdw11 == 5000);
    proto::Sqe dsm = cmd::dataset_management(1, 2);
    CHECK(dsm.opcode == 0x09);
    CHECK(dsm.cdw10 == 1);
    CHECK(dsm.cdw11 == proto::kDsmAttrDeallocate);
}

TEST_CASE("connect command and data follow the fabrics layout") {
    cmd::ConnectParams p{4, 127, 15000, true};
    proto::Sqe s = cmd::connect(p);
    proto::ConnectCommand c;
    std::memcpy(&c, &s, sizeof c);
    CHECK(c.opcode == 0x7f);
    CHECK(c.fctype == 0x01);
    CHECK(s.fctype() == 0x01);
    CHECK(c.qid == 4);
    CHECK(c.sqsize == 127);
    CHECK(c.kato == 15000);
    CHECK(c.cattr == proto::kConnectAttrDisableSqFlowControl);

    std::array<uint8_t, 16> hostid{1, 2, 3};
    proto::ConnectData d = cmd::connect_data(hostid, 0xffff, "nqn.sub", "nqn.host");
    CHECK(d.hostid[2] == 3);
    CHECK(d.cntlid == 0xffff);
    CHECK(std::string(d.subnqn) == "nqn.sub");
    CHECK(std::string(d.hostnqn) == "nqn.host");
    CHECK_THROWS_AS(cmd::connect_data(hostid, 1, std::string(256, 'x'), "h"), std::invalid_argument);
}

TEST_CASE("property commands size CAP as 8 bytes") {
    proto::Sqe g = cmd::property_get(proto::property::kCap, cmd::property_size(proto::property::kCap));
    proto::PropertyCommand p;
    std::memcpy(&p, &g, sizeof p);
    CHECK(p.fctype == 0x04);
    CHECK(p.attrib == 1);
    CHECK(p.offset == 0);
    proto::Sqe s = cmd::property_set(proto::property::kCc, 0x460001, cmd::property_size(proto::property::kCc));
    std::memcpy(&p, &s, sizeof p);
    CHECK(p.fctype == 0x00);
    CHECK(p.attrib == 0);
    CHECK(p.offset == 0x14);
    CHECK(p.value == 0x460001);
}

TEST_CASE("host identity: UUID round trip and NQN form") {
    HostIdentity id = random_host_identity();
    CHECK(id.hostnqn.starts_with("nqn.2014-08.org.nvmexpress:uuid:"));
    std::array<uint8_t, 16> parsed{};
    REQUIRE(parse_uuid(format_uuid(id.hostid), parsed));
    CHECK(parsed == id.hostid);
    CHECK_FALSE(parse_uuid("not-a-uuid", parsed));
}
