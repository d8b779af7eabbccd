// PDU building and the checks on received PDUs, without sockets.
#include <cstring>
#include <doctest/doctest.h>

#include "core/proto/crc32c.hpp"
#include "tools/host/commands.hpp"
#include "tools/host/errors.hpp"
#include "tools/host/pdu_build.hpp"
#include "tools/host/pdu_checks.hpp"

using namespace nvmfd;
using namespace nvmfd::host;
using namespace nvmfd::proto::tcp;

namespace {

template <typename T>
T load(const std::byte* p) {
    T v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

TransportParams params(bool hd, bool dd, uint8_t cpda = 0, uint8_t hpda = 0) {
    TransportParams p;
    p.header_digest = hd;
    p.data_digest = dd;
    p.cpda = cpda;
    p.hpda = hpda;
    p.maxh2cdata = 8192;
    return p;
}

ICResp good_icresp() {
    ICResp r{};
    r.ch.type = PduType::ICResp;
    r.ch.hlen = 128;
    r.ch.plen = 128;
    r.maxh2cdata = 131072;
    return r;
}

}  // namespace

TEST_CASE("ICReq carries HPDA, digest bits and MAXR2T") {
    TransportOptions o;
    o.hpda = 3;
    o.header_digest = true;
    o.data_digest = true;
    o.maxr2t = 7;
    ICReq req = pdu::build_icreq(o);
    CHECK(req.ch.type == PduType::ICReq);
    CHECK(req.ch.hlen == 128);
    CHECK(req.ch.plen == 128);
    CHECK(req.ch.flags == 0);
    CHECK(req.pfv == 0);
    CHECK(req.hpda == 3);
    CHECK(req.dgst == 3);
    CHECK(req.maxr2t == 7);
    CHECK(pdu::icreq_bytes(o).size() == 128);
}

TEST_CASE("capsule header without data: PDO 0, PLEN header plus digest") {
    proto::Sqe sqe = host::cmd::read(1, 0, 8);
    alignas(8) std::byte area[pdu::kHeaderArea];
    SUBCASE("no digest") {
        size_t n = pdu::build_capsule_header(pdu::HeaderArea(area), sqe, 0, params(false, false));
        CHECK(n == 72);
        auto cmd = load<CapsuleCmd>(area);
        CHECK(cmd.ch.type == PduType::CapsuleCmd);
        CHECK(cmd.ch.pdo == 0);
        CHECK(cmd.ch.plen == 72);
        CHECK(cmd.ch.flags == 0);
        CHECK(std::memcmp(&cmd.sqe, &sqe, sizeof sqe) == 0);
    }
    SUBCASE("header digest follows the header and covers it") {
        size_t n = pdu::build_capsule_header(pdu::HeaderArea(area), sqe, 0, params(true, true));
        CHECK(n == 76);
        auto cmd = load<CapsuleCmd>(area);
        CHECK(cmd.ch.plen == 76);
        CHECK(cmd.ch.flags == flags::kHeaderDigest);  // no DDGSTF without data
        CHECK(load<uint32_t>(area + 72) == proto::crc32c(area, 72));
    }
}

TEST_CASE("capsule header with in-capsule data honours CPDA") {
    proto::Sqe sqe = host::cmd::write(1, 0, 8);
    alignas(8) std::byte area[pdu::kHeaderArea];
    SUBCASE("CPDA 0, no digests: data right after the header") {
        size_t n = pdu::build_capsule_header(pdu::HeaderArea(area), sqe, 4096, params(false, false));
        auto cmd = load<CapsuleCmd>(area);
        CHECK(n == 72);
        CHECK(cmd.ch.pdo == 72);
        CHECK(cmd.ch.plen == 72 + 4096);
    }
    SUBCASE("CPDA 7 (32 bytes) with both digests") {
        size_t n = pdu::build_capsule_header(pdu::HeaderArea(area), sqe, 4096, params(true, true, 7));
        auto cmd = load<CapsuleCmd>(area);
        CHECK(n == 96);  // 72 + 4 rounded up to 32
        CHECK(cmd.ch.pdo == 96);
        CHECK(cmd.ch.plen == 96 + 4096 + 4);
        CHECK(cmd.ch.flags == (flags::kHeaderDigest | flags::kDataDigest));
        for (size_t i = 76; i < 96; ++i) CHECK(area[i] == std::byte{0});
    }
    SUBCASE("CPDA 31: 128-byte alignment fits the header area") {
        size_t n = pdu::build_capsule_header(pdu::HeaderArea(area), sqe, 512, params(true, false, 31));
        CHECK(n == 128);
    }
}

TEST_CASE("H2CData header") {
    alignas(8) std::byte area[pdu::kHeaderArea];
    pdu::H2CDataFields f{5, 9, 8192, 4096, true};
    size_t n = pdu::build_h2c_data_header(pdu::HeaderArea(area), f, params(true, true, 1));
    auto h = load<DataPdu>(area);
    CHECK(n == 32);  // 24 + 4 rounded to 8
    CHECK(h.ch.type == PduType::H2CData);
    CHECK(h.ch.flags == (flags::kHeaderDigest | flags::kDataDigest | flags::kLastPdu));
    CHECK(h.ch.pdo == 32);
    CHECK(h.ch.plen == 32 + 4096 + 4);
    CHECK(h.cccid == 5);
    CHECK(h.ttag == 9);
    CHECK(h.datao == 8192);
    CHECK(h.datal == 4096);
    CHECK(load<uint32_t>(area + 24) == proto::crc32c(area, 24));
}

TEST_CASE("whole-PDU builders append data and its digest") {
    std::vector<std::byte> data(100, std::byte{0xab});
    auto bytes = pdu::h2c_data_bytes({1, 2, 0, 0, true}, data, params(false, true));
    REQUIRE(bytes.size() == 24 + 100 + 4);
    CHECK(load<uint32_t>(bytes.data() + 124) == proto::crc32c(data.data(), data.size()));
    auto term = pdu::h2c_term_req_bytes(TermFes::PduSequenceError, 0x11, std::span(bytes).first(24));
    CHECK(term.size() == 48);
    CHECK(load<TermReq>(term.data()).fes == 2);
    CHECK(load<TermReq>(term.data()).ch.type == PduType::H2CTermReq);
}

TEST_CASE("ICResp is checked against the ICReq") {
    TransportOptions asked;
    SUBCASE("good") {
        ICResp r = good_icresp();
        r.cpda = 2;
        TransportParams p = pdu::check_icresp(r, asked);
        CHECK(p.cpda == 2);
        CHECK(p.maxh2cdata == 131072);
        CHECK(p.h2c_alignment() == 12);
    }
    SUBCASE("MAXH2CDATA below 4096") {
        ICResp r = good_icresp();
        r.maxh2cdata = 1024;
        CHECK_THROWS_WITH_AS(pdu::check_icresp(r, asked), doctest::Contains("MAXH2CDATA 1024"), host::ProtocolError);
    }
    SUBCASE("digest the host did not ask for") {
        ICResp r = good_icresp();
        r.dgst = kDigestData;
        CHECK_THROWS_WITH_AS(pdu::check_icresp(r, asked), doctest::Contains("data digest on but the host asked for off"),
                             host::ProtocolError);
    }
    SUBCASE("digest the host asked for refused") {
        asked.header_digest = true;
        CHECK_THROWS_WITH_AS(pdu::check_icresp(good_icresp(), asked), doctest::Contains("header digest off"),
                             host::ProtocolError);
    }
    SUBCASE("CPDA above 31") {
        ICResp r = good_icresp();
        r.cpda = 32;
        CHECK_THROWS_WITH_AS(pdu::check_icresp(r, asked), doctest::Contains("CPDA 32"), host::ProtocolError);
    }
    SUBCASE("PFV") {
        ICResp r = good_icresp();
        r.pfv = 1;
        CHECK_THROWS_AS(pdu::check_icresp(r, asked), host::ProtocolError);
    }
}

TEST_CASE("common header checks") {
    TransportParams p = params(true, false);
    CommonHeader ch{PduType::CapsuleResp, flags::kHeaderDigest, 24, 0, 28};
    CHECK(pdu::check_common_header(ch, p) == 28);
    SUBCASE("HLEN") {
        ch.hlen = 32;
        CHECK_THROWS_WITH_AS(pdu::check_common_header(ch, p), doctest::Contains("HLEN 32, must be 24"),
                             host::ProtocolError);
    }
    SUBCASE("missing HDGSTF") {
        ch.flags = 0;
        CHECK_THROWS_WITH_AS(pdu::check_common_header(ch, p), doctest::Contains("HDGSTF is clear"), host::ProtocolError);
    }
    SUBCASE("host-only PDU type") {
        ch.type = PduType::H2CData;
        CHECK_THROWS_WITH_AS(pdu::check_common_header(ch, p), doctest::Contains("unexpected PDU type 0x06"),
                             host::ProtocolError);
    }
    SUBCASE("term req: whole PDU, bounded") {
        CommonHeader t{PduType::C2HTermReq, 0, 24, 0, 24 + 72};
        CHECK(pdu::check_common_header(t, p) == 96);
        t.plen = 24 + 129;
        CHECK_THROWS_AS(pdu::check_common_header(t, p), host::ProtocolError);
    }
    SUBCASE("no-data PDU with wrong PLEN") {
        ch.plen = 40;
        CHECK(pdu::check_common_header(ch, p) == 28);
        CHECK_THROWS_WITH_AS(pdu::check_no_data_pdu(ch, p), doctest::Contains("PLEN 40, must be 28"),
                             host::ProtocolError);
    }
}

TEST_CASE("header digest mismatch is named") {
    TransportParams p = params(true, false);
    alignas(8) std::byte pdu_bytes[28]{};
    CapsuleResp r{};
    r.ch = {PduType::CapsuleResp, flags::kHeaderDigest, 24, 0, 28};
    std::memcpy(pdu_bytes, &r, 24);
    uint32_t good = proto::crc32c(pdu_bytes, 24);
    std::memcpy(pdu_bytes + 24, &good, 4);
    CHECK_NOTHROW(pdu::check_header_digest(pdu_bytes, 24, p));
    pdu_bytes[24] ^= std::byte{1};
    CHECK_THROWS_WITH_AS(pdu::check_header_digest(pdu_bytes, 24, p), doctest::Contains("CapsuleResp header digest"),
                         host::ProtocolError);
}

TEST_CASE("C2HData layout checks") {
    TransportParams p = params(true, true, 0, 1);  // HPDA 1: 8-byte alignment
    DataPdu d{};
    d.ch = {PduType::C2HData, uint8_t(flags::kHeaderDigest | flags::kDataDigest | flags::kLastPdu), 24, 32, 0};
    d.datal = 4096;
    d.ch.plen = 32 + 4096 + 4;
    pdu::C2HDataLayout l = pdu::check_c2h_data(d, p, false);
    CHECK(l.padding == 4);
    CHECK(l.data_length == 4096);
    CHECK(l.last);
    CHECK_FALSE(l.success);
    SUBCASE("PDO not aligned to HPDA") {
        d.ch.pdo = 28;
        d.ch.plen = 28 + 4096 + 4;
        CHECK_THROWS_WITH_AS(pdu::check_c2h_data(d, p, false), doctest::Contains("not a multiple of 8 bytes"),
                             host::ProtocolError);
    }
    SUBCASE("PLEN inconsistent") {
        d.ch.plen += 4;
        CHECK_THROWS_WITH_AS(pdu::check_c2h_data(d, p, false), doctest::Contains("PLEN"), host::ProtocolError);
    }
    SUBCASE("SUCCESS only when allowed and only with LAST_PDU") {
        d.ch.flags |= flags::kSuccess;
        CHECK_THROWS_WITH_AS(pdu::check_c2h_data(d, p, false), doctest::Contains("did not disable SQ flow control"),
                             host::ProtocolError);
        CHECK(pdu::check_c2h_data(d, p, true).success);
        d.ch.flags &= ~flags::kLastPdu;
        CHECK_THROWS_WITH_AS(pdu::check_c2h_data(d, p, true), doctest::Contains("without LAST_PDU"),
                             host::ProtocolError);
    }
    SUBCASE("DDGSTF must match") {
        d.ch.flags &= ~flags::kDataDigest;
        CHECK_THROWS_AS(pdu::check_c2h_data(d, p, false), host::ProtocolError);
    }
}

TEST_CASE("term request description names FES") {
    TermReq t{};
    t.fes = 3;
    uint32_t fei = 0x48;
    std::memcpy(t.fei, &fei, 4);
    std::string text = pdu::describe_term_req(t, {});
    CHECK(text.find("FES 3 (header digest error)") != std::string::npos);
    CHECK(text.find("FEI 0x48") != std::string::npos);
}
