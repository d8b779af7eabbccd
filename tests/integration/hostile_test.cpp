// Hostile and broken hosts: malformed PDUs, bad digests, oversized data,
// wrong NQNs, hosts that are not allowed, commands before Connect. Each gets
// the specification's status or a termination request and a closed
// connection; the daemon keeps serving others and loses no acknowledged write.
#include <doctest/doctest.h>

#include <cstring>
#include <random>
#include <vector>

#include "tests/integration/nvmfd_process.hpp"
#include "tests/integration/raw_wire.hpp"
#include "tools/host/commands.hpp"
#include "tools/host/controller.hpp"
#include "tools/host/errors.hpp"
#include "tools/host/io_queue.hpp"
#include "tools/host/pdu_build.hpp"
#include "tools/host/raw_connection.hpp"

using namespace nvmfd;
using namespace nvmfd::host;
using namespace std::chrono_literals;
using proto::tcp::TermFes;
using testing::NvmfdProcess;
using testing::expect_response;
using testing::in_capsule;
using testing::params_from;
using testing::via_transport;
namespace status = proto::status;
namespace tcp = proto::tcp;

namespace {

const std::string kAllowed = "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-00000000a110";
const std::string kRestricted = "nqn.2026-11.io.nvmfd:restricted";

// The default export plus a subsystem only kAllowed may use.
const char* kState = R"({
  "version": 1,
  "subsystems": [
    {"nqn": "nqn.2026-11.io.nvmfd:default", "allow_any_host": true,
     "namespaces": [{"nsid": 1, "backend": "malloc", "params": {"size": "64M"}}]},
    {"nqn": "nqn.2026-11.io.nvmfd:restricted", "allow_any_host": false,
     "hosts": ["nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-00000000a110"],
     "namespaces": [{"nsid": 1, "backend": "malloc", "params": {"size": "16M"}}]}
  ],
  "ports": [{"id": 1, "address": "127.0.0.1", "service": "@PORT@",
             "subsystems": ["nqn.2026-11.io.nvmfd:default", "nqn.2026-11.io.nvmfd:restricted"]}]
})";

// A daemon, a well-behaved host whose acknowledged data must survive, and
// helpers to open raw connections next to it.
struct Target {
    NvmfdProcess daemon;
    Controller good;
    IoQueue good_io;
    std::vector<std::byte> acknowledged;

    static testing::DaemonOptions options() {
        testing::DaemonOptions o;
        o.state_json = kState;
        return o;
    }
    static ControllerOptions default_subsystem() {
        ControllerOptions o;
        o.subnqn = NvmfdProcess::default_nqn();
        o.kato_ms = 30000;
        return o;
    }

    Target()
        : daemon(options()),
          good(Controller::connect({"127.0.0.1", daemon.port()}, default_subsystem())),
          good_io((good.request_io_queues(2), good.connect_io_queue(1, 16))),
          acknowledged(64 * 1024) {
        std::mt19937 rng(7);
        for (auto& b : acknowledged) b = std::byte(rng());
        REQUIRE(good_io.write(1, 4096, 128, acknowledged) == status::kSuccess);
    }

    ~Target() {
        // The daemon still serves, and nothing acknowledged was lost.
        CHECK(daemon.running());
        std::vector<std::byte> back(acknowledged.size());
        CHECK(good_io.read(1, 4096, 128, back) == status::kSuccess);
        CHECK(back == acknowledged);
        Controller fresh = Controller::connect({"127.0.0.1", daemon.port()}, default_subsystem());
        CHECK(fresh.identify_data().cntlid != good.cntlid());
    }

    RawConnection raw() { return RawConnection::open({"127.0.0.1", daemon.port()}); }

    // A raw I/O queue 2 of the good controller, after ICReq and Connect.
    RawConnection raw_io_queue(TransportOptions asked, TransportParams& params) {
        RawConnection r = raw();
        tcp::ICResp resp = r.handshake(asked);
        params = params_from(resp, asked);
        auto data = cmd::connect_data(good.options().host.hostid, good.cntlid(), NvmfdProcess::default_nqn(),
                                      good.options().host.hostnqn);
        auto sqe = in_capsule(cmd::connect({.qid = 2, .sqsize = 15, .kato_ms = 0}), sizeof data);
        r.send(pdu::capsule_bytes(sqe, pdu::as_bytes_of(data), params));
        auto pdu = r.receive_pdu(5s);
        REQUIRE(pdu);
        REQUIRE(pdu->header.type == tcp::PduType::CapsuleResp);
        REQUIRE(proto::Status::from_cqe(pdu->as<tcp::CapsuleResp>().cqe.status) == status::kSuccess);
        return r;
    }
};

void expect_termination(RawConnection& r, TermFes fes, std::optional<uint32_t> fei = std::nullopt) {
    TermRequest t = r.expect_term_req(5s);
    CHECK(t.fes == uint16_t(fes));
    if (fei) CHECK(t.fei == *fei);
    CHECK(r.wait_closed(5s));
}

}  // namespace

TEST_CASE("PDUs before or instead of ICReq end the connection with a sequence error") {
    Target t;
    RawConnection r = t.raw();
    TransportParams none;
    r.send(pdu::capsule_bytes(cmd::keep_alive(), {}, none));
    expect_termination(r, TermFes::PduSequenceError);
}

TEST_CASE("bad ICReq fields are named in the termination request") {
    Target t;
    SUBCASE("PFV other than 0") {
        RawConnection r = t.raw();
        tcp::ICReq req = pdu::build_icreq({});
        req.pfv = 1;
        r.send_struct(req);
        expect_termination(r, TermFes::UnsupportedParameter, offsetof(tcp::ICReq, pfv));
    }
    SUBCASE("HPDA above 31") {
        RawConnection r = t.raw();
        tcp::ICReq req = pdu::build_icreq({});
        req.hpda = 32;
        r.send_struct(req);
        expect_termination(r, TermFes::InvalidHeaderField, offsetof(tcp::ICReq, hpda));
    }
    SUBCASE("wrong header length") {
        RawConnection r = t.raw();
        tcp::ICReq req = pdu::build_icreq({});
        req.ch.hlen = 64;
        r.send_struct(req);
        expect_termination(r, TermFes::InvalidHeaderField, offsetof(tcp::CommonHeader, hlen));
    }
    SUBCASE("PDU length shorter than the header") {
        RawConnection r = t.raw();
        tcp::ICReq req = pdu::build_icreq({});
        req.ch.plen = 8;
        r.send_struct(req);
        expect_termination(r, TermFes::InvalidHeaderField, offsetof(tcp::CommonHeader, plen));
    }
    SUBCASE("a second ICReq") {
        RawConnection r = t.raw();
        r.handshake({});
        r.send(pdu::icreq_bytes({}));
        expect_termination(r, TermFes::PduSequenceError);
    }
}

TEST_CASE("unknown and controller-to-host PDU types are invalid") {
    Target t;
    for (uint8_t type : {uint8_t(0x0b), uint8_t(tcp::PduType::C2HData), uint8_t(tcp::PduType::R2T)}) {
        CAPTURE(type);
        RawConnection r = t.raw();
        r.handshake({});
        tcp::DataPdu p{};
        p.ch.type = static_cast<tcp::PduType>(type);
        p.ch.hlen = sizeof p;
        p.ch.plen = sizeof p;
        r.send_struct(p);
        TermRequest term = r.expect_term_req(5s);
        CHECK(term.fes == uint16_t(TermFes::InvalidHeaderField));
        CHECK(r.wait_closed(5s));
    }
}

TEST_CASE("a header digest error terminates the connection") {
    Target t;
    TransportParams params;
    RawConnection r = t.raw_io_queue({.header_digest = true}, params);
    auto bytes = pdu::capsule_bytes(cmd::flush(1), {}, params);
    bytes[sizeof(tcp::CapsuleCmd)] ^= std::byte{0x01};  // first byte of the header digest
    r.send(bytes);
    expect_termination(r, TermFes::HeaderDigestError);
}

TEST_CASE("a data digest error fails the command and writes nothing") {
    Target t;
    TransportParams params;
    RawConnection r = t.raw_io_queue({.data_digest = true}, params);
    std::vector<std::byte> data(4096, std::byte{0xee});
    auto sqe = in_capsule(cmd::write(1, 4096, 8), data.size());
    sqe.cid = 9;
    auto bytes = pdu::capsule_bytes(sqe, data, params);
    bytes.back() ^= std::byte{0xff};  // the data digest
    r.send(bytes);
    proto::Cqe cqe = expect_response(r);
    CHECK(cqe.cid == 9);
    CHECK(proto::Status::from_cqe(cqe.status) == status::kTransientTransportError);
    // The connection is still usable, and the data on the namespace did not change.
    r.send(pdu::capsule_bytes(cmd::flush(1), {}, params));
    CHECK(proto::Status::from_cqe(expect_response(r).status) == status::kSuccess);
}

TEST_CASE("in-capsule data beyond the in-capsule size is a data limit error") {
    Target t;
    TransportParams params;
    RawConnection r = t.raw_io_queue({}, params);
    std::vector<std::byte> data(16384);
    r.send(pdu::capsule_bytes(in_capsule(cmd::write(1, 0, 32), data.size()), data, params));
    expect_termination(r, TermFes::DataLimitExceeded);
}

TEST_CASE("H2CData that breaks the R2T rules") {
    Target t;
    TransportParams params;
    RawConnection r = t.raw_io_queue({}, params);
    auto r2t_for = [&](uint32_t len, uint16_t cid) {
        auto sqe = via_transport(cmd::write(1, 0, len / 512), len);
        sqe.cid = cid;
        r.send(pdu::capsule_bytes(sqe, {}, params));
        auto pdu = r.receive_pdu(5s);
        REQUIRE(pdu);
        REQUIRE(pdu->header.type == tcp::PduType::R2T);
        tcp::R2T r2t = pdu->as<tcp::R2T>();
        CHECK(r2t.cccid == cid);
        CHECK(r2t.r2to == 0);
        CHECK(r2t.r2tl == len);
        return r2t;
    };
    std::vector<std::byte> chunk(4096);
    SUBCASE("unknown transfer tag") {
        tcp::R2T r2t = r2t_for(8192, 1);
        r.send(pdu::h2c_data_bytes({.cccid = 1, .ttag = uint16_t(r2t.ttag + 100), .datao = 0}, chunk, params));
        expect_termination(r, TermFes::InvalidHeaderField, offsetof(tcp::DataPdu, ttag));
    }
    SUBCASE("data offset out of order") {
        tcp::R2T r2t = r2t_for(8192, 2);
        r.send(pdu::h2c_data_bytes({.cccid = 2, .ttag = r2t.ttag, .datao = 4096}, chunk, params));
        expect_termination(r, TermFes::DataOutOfRange, offsetof(tcp::DataPdu, datao));
    }
    SUBCASE("data past the requested length") {
        tcp::R2T r2t = r2t_for(4096, 3);
        std::vector<std::byte> more(8192);
        r.send(pdu::h2c_data_bytes({.cccid = 3, .ttag = r2t.ttag, .datao = 0}, more, params));
        expect_termination(r, TermFes::DataOutOfRange);
    }
    SUBCASE("one PDU larger than MAXH2CDATA") {
        uint32_t len = params.maxh2cdata * 2;
        tcp::R2T r2t = r2t_for(len, 4);
        std::vector<std::byte> big(len);
        r.send(pdu::h2c_data_bytes({.cccid = 4, .ttag = r2t.ttag, .datao = 0, .last = true}, big, params));
        expect_termination(r, TermFes::DataLimitExceeded);
    }
}

TEST_CASE("Connect refusals carry the spec's status and the bad field") {
    Target t;
    auto try_connect = [&](const std::string& subnqn, const std::string& hostnqn, uint16_t cntlid = 0xffff,
                           uint16_t qid = 0) {
        RawConnection r = t.raw();
        tcp::ICResp resp = r.handshake({});
        TransportParams params = params_from(resp, {});
        std::array<uint8_t, 16> hostid{1, 2, 3};
        auto data = cmd::connect_data(hostid, cntlid, subnqn, hostnqn);
        auto sqe = in_capsule(cmd::connect({.qid = qid, .sqsize = 31}), sizeof data);
        r.send(pdu::capsule_bytes(sqe, pdu::as_bytes_of(data), params));
        return expect_response(r);
    };
    SUBCASE("unknown subsystem NQN") {
        proto::Cqe c = try_connect("nqn.2026-11.io.nvmfd:nosuch", kAllowed);
        CHECK(proto::Status::from_cqe(c.status) == status::kConnectInvalidParameters);
        CHECK(c.dw0 == proto::connect_invalid_data_field(offsetof(proto::ConnectData, subnqn)));
    }
    SUBCASE("a host that is not allowed") {
        proto::Cqe c = try_connect(kRestricted, "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-0000000bad00");
        CHECK(proto::Status::from_cqe(c.status) == status::kConnectInvalidHost);
        CHECK(c.dw0 == proto::connect_invalid_data_field(offsetof(proto::ConnectData, hostnqn)));
        CHECK(t.daemon.log().find("is not allowed on the subsystem") != std::string::npos);
    }
    SUBCASE("the allowed host gets in") {
        proto::Cqe c = try_connect(kRestricted, kAllowed);
        CHECK(proto::Status::from_cqe(c.status) == status::kSuccess);
    }
    SUBCASE("an I/O queue for a controller that does not exist") {
        proto::Cqe c = try_connect(NvmfdProcess::default_nqn(), kAllowed, 0x7777, 1);
        CHECK(proto::Status::from_cqe(c.status) == status::kConnectInvalidParameters);
        CHECK(c.dw0 == proto::connect_invalid_data_field(offsetof(proto::ConnectData, cntlid)));
    }
    SUBCASE("a static controller ID on the admin queue") {
        proto::Cqe c = try_connect(NvmfdProcess::default_nqn(), kAllowed, 5, 0);
        CHECK(proto::Status::from_cqe(c.status) == status::kConnectInvalidParameters);
    }
    SUBCASE("the library reports refusals as errors") {
        ControllerOptions o;
        o.subnqn = kRestricted;
        o.host.hostnqn = "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-0000000bad01";
        CHECK_THROWS_AS(Controller::connect({"127.0.0.1", t.daemon.port()}, o), StatusError);
    }
}

TEST_CASE("commands before Connect get a command sequence error") {
    Target t;
    RawConnection r = t.raw();
    tcp::ICResp resp = r.handshake({});
    TransportParams params = params_from(resp, {});
    auto sqe = via_transport(cmd::read(1, 0, 8), 4096);
    sqe.cid = 42;
    r.send(pdu::capsule_bytes(sqe, {}, params));
    proto::Cqe c = expect_response(r);
    CHECK(c.cid == 42);
    CHECK(proto::Status::from_cqe(c.status) == status::kCommandSequenceError);
}

TEST_CASE("random garbage and truncated PDUs do not hurt the daemon") {
    Target t;
    std::mt19937 rng(1234);
    for (int i = 0; i < 50; ++i) {
        RawConnection r = t.raw();
        if (i % 2) r.handshake({});
        std::vector<std::byte> junk(1 + rng() % 300);
        for (auto& b : junk) b = std::byte(rng());
        r.send(junk);
        // Either a termination request and close, or the daemon waits for
        // more bytes of a PDU that never completes; we hang up either way.
        try {
            r.wait_closed(100ms);
        } catch (const std::exception&) {
        }
    }
    CHECK(t.daemon.running());
}
