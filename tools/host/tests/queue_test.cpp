// The host library end to end against the in-process fake target: setup,
// data paths (in-capsule, R2T, multi-PDU C2H, SUCCESS flag, digests,
// alignment), pipelining, discovery, and one test per target misbehaviour.
#include <doctest/doctest.h>

#include <fmt/format.h>
#include <numeric>
#include <random>

#include "core/proto/status.hpp"
#include "tools/host/commands.hpp"
#include "tools/host/controller.hpp"
#include "tools/host/discovery.hpp"
#include "tools/host/errors.hpp"
#include "tools/host/pdu_build.hpp"
#include "tools/host/raw_connection.hpp"
#include "tools/host/tests/fake_target.hpp"

using namespace nvmfd;
using namespace nvmfd::host;
using namespace std::chrono_literals;
using testing::Fault;
using testing::FakeTarget;
using testing::FakeTargetOptions;

namespace {

ControllerOptions options_for(const FakeTarget& t, TransportOptions transport = {}) {
    ControllerOptions o;
    o.subnqn = t.options().subnqn;
    o.transport = transport;
    o.queue.command_timeout = 5000ms;
    return o;
}

Endpoint endpoint_of(const FakeTarget& t) { return {"127.0.0.1", t.port()}; }

std::vector<std::byte> pattern(size_t n, uint32_t seed) {
    std::vector<std::byte> v(n);
    std::mt19937 rng(seed);
    for (auto& b : v) b = static_cast<std::byte>(rng());
    return v;
}

void write_read_verify(IoQueue& io, uint32_t block_size, size_t bytes, uint64_t lba, uint32_t seed) {
    auto data = pattern(bytes, seed);
    uint32_t blocks = static_cast<uint32_t>(bytes / block_size);
    REQUIRE(io.write(1, lba, blocks, data).ok());
    std::vector<std::byte> back(bytes);
    REQUIRE(io.read(1, lba, blocks, back).ok());
    CHECK(back == data);
}

}  // namespace

TEST_CASE("connect, enable, identify, namespaces") {
    FakeTarget target;
    Controller ctrl = Controller::connect(endpoint_of(target), options_for(target));
    CHECK(ctrl.cntlid() != 0);
    CHECK((ctrl.cap() & 0xffff) == 1023);
    CHECK(ctrl.version() == proto::nvme_version(1, 4));
    CHECK(ctrl.identify_data().cntrltype == 1);
    CHECK(ctrl.io_in_capsule_bytes() == 4096);
    CHECK(ctrl.max_transfer_bytes() == 1u << 20);
    CHECK(std::string(ctrl.identify_data().subnqn) == target.options().subnqn);

    std::vector<uint32_t> nsids;
    REQUIRE(ctrl.active_namespaces(nsids).ok());
    CHECK(nsids == std::vector<uint32_t>{1});
    std::vector<NamespaceDescriptor> descriptors;
    REQUIRE(ctrl.namespace_descriptors(1, descriptors).ok());
    REQUIRE(descriptors.size() == 2);
    CHECK(descriptors[0].type == proto::NidType::Nguid);
    NamespaceGeometry g = ctrl.namespace_geometry(1);
    CHECK(g.block_size == 512);
    CHECK(g.blocks == (64u << 20) / 512);
    proto::IdentifyNamespace ns{};
    CHECK(ctrl.identify_namespace(9, ns) == proto::status::kInvalidNamespace);
    CHECK(ctrl.keep_alive().ok());
    CHECK(ctrl.request_io_queues(4) == 4);

    std::vector<std::byte> log(512);
    CHECK(ctrl.get_log_page(0x02, log).ok());
    CHECK(ctrl.get_features(0x07).status.ok());
    ctrl.shutdown();
    CHECK((ctrl.read_property(proto::property::kCsts) & proto::csts::kShutdownMask) == proto::csts::kShutdownComplete);
    CHECK(target.violations().empty());
}

TEST_CASE("IPv6, with and without brackets") {
    FakeTargetOptions fo;
    fo.ipv6 = true;
    FakeTarget target(fo);
    for (const char* address : {"::1", "[::1]"}) {
        Controller ctrl = Controller::connect({address, target.port()}, options_for(target));
        CHECK(ctrl.admin().connection().peer() == fmt::format("[::1]:{}", target.port()));
        IoQueue io = ctrl.connect_io_queue(1, 2);
        write_read_verify(io, 512, 8192, 0, 3);
    }
}

TEST_CASE("connect refused: status and the offending field") {
    FakeTarget target;
    ControllerOptions o = options_for(target);
    o.subnqn = "nqn.2026-11.io.nvmfd:nope";
    try {
        Controller::connect(endpoint_of(target), o);
        FAIL("connect should have failed");
    } catch (const StatusError& e) {
        CHECK(e.status() == proto::status::kConnectInvalidParameters);
        CHECK(std::string(e.what()).find("byte 256 of the Connect data") != std::string::npos);
    }
}

TEST_CASE("I/O queue depth above CAP.MQES is refused before connecting") {
    FakeTargetOptions fo;
    fo.mqes = 15;
    FakeTarget target(fo);
    Controller ctrl = Controller::connect(endpoint_of(target), options_for(target));
    CHECK_THROWS_AS(ctrl.connect_io_queue(1, 16), std::invalid_argument);
    CHECK_NOTHROW(ctrl.connect_io_queue(1, 15));
}

TEST_CASE("an I/O queue larger than its depth asks for that many entries") {
    FakeTargetOptions fo;
    fo.mqes = 63;
    FakeTarget target(fo);
    Controller ctrl = Controller::connect(endpoint_of(target), options_for(target));
    IoQueueOptions larger;
    larger.queue_size = 64;  // CAP.MQES + 1
    IoQueue io = ctrl.connect_io_queue(1, 2, larger);
    CHECK(io.queue().depth() == 2);  // the host still keeps at most 2 in flight
    IoQueue plain = ctrl.connect_io_queue(2, 2);
    CHECK(target.io_queue_sizes() == std::vector<uint32_t>{64, 3});
    larger.queue_size = 65;
    CHECK_THROWS_AS(ctrl.connect_io_queue(3, 2, larger), std::invalid_argument);
    larger.queue_size = 2;  // holds one command, not two
    CHECK_THROWS_AS(ctrl.connect_io_queue(3, 2, larger), std::invalid_argument);
}

TEST_CASE("write/read verify 512 B .. 1 MiB across transport settings") {
    struct Case {
        const char* name;
        bool hd, dd;
        uint8_t hpda, cpda;
        uint32_t maxh2cdata, c2h_chunk, r2t_chunk;
        bool success_flag;
    };
    const Case cases[] = {
        {"plain", false, false, 0, 0, 128 * 1024, 128 * 1024, 0, false},
        {"header digest", true, false, 0, 0, 128 * 1024, 128 * 1024, 0, false},
        {"data digest", false, true, 0, 0, 128 * 1024, 128 * 1024, 0, false},
        {"both digests, HPDA 3, CPDA 7", true, true, 3, 7, 128 * 1024, 128 * 1024, 0, false},
        {"small MAXH2CDATA, chunked C2H", true, true, 0, 0, 4096, 8192, 0, false},
        {"several R2Ts per write", false, true, 1, 0, 16384, 65536, 24576, false},
        {"SUCCESS flag", true, true, 0, 0, 128 * 1024, 32768, 0, true},
    };
    for (const Case& c : cases) {
        CAPTURE(c.name);
        FakeTargetOptions fo;
        fo.cpda = c.cpda;
        fo.maxh2cdata = c.maxh2cdata;
        fo.c2h_chunk = c.c2h_chunk;
        fo.r2t_chunk = c.r2t_chunk;
        FakeTarget target(fo);
        TransportOptions t;
        t.header_digest = c.hd;
        t.data_digest = c.dd;
        t.hpda = c.hpda;
        Controller ctrl = Controller::connect(endpoint_of(target), options_for(target, t));
        IoQueueOptions qo;
        qo.disable_sq_flow_control = c.success_flag;
        IoQueue io = ctrl.connect_io_queue(1, 8, qo);
        uint32_t seed = 1;
        for (size_t bytes = 512; bytes <= (1u << 20); bytes *= 2) write_read_verify(io, 512, bytes, bytes / 512, seed++);
        // odd sizes around the in-capsule boundary and MAXH2CDATA
        for (size_t bytes : {3584ul, 4608ul, 12800ul, 131584ul}) write_read_verify(io, 512, bytes, 4096, seed++);
        CHECK(target.violations().empty());
    }
}

TEST_CASE("explicit placement: R2T for a small write, in-capsule refused above IOCCSZ") {
    FakeTarget target;
    Controller ctrl = Controller::connect(endpoint_of(target), options_for(target));
    IoQueue io = ctrl.connect_io_queue(1, 4);
    auto data = pattern(1024, 5);
    CHECK(io.write(1, 0, 2, data, DataPlacement::Transport).ok());
    std::vector<std::byte> back(1024);
    CHECK(io.read(1, 0, 2, back).ok());
    CHECK(back == data);
    auto big = pattern(8192, 6);
    CHECK_FALSE(io.write(1, 0, 16, big, DataPlacement::InCapsule).ok());
    CHECK(target.violations().size() == 1);
}

TEST_CASE("compare, write zeroes, deallocate, flush, out of range") {
    FakeTarget target;
    Controller ctrl = Controller::connect(endpoint_of(target), options_for(target));
    IoQueue io = ctrl.connect_io_queue(1, 4);
    auto data = pattern(4096, 9);
    REQUIRE(io.write(1, 100, 8, data).ok());
    CHECK(io.compare(1, 100, 8, data).ok());
    auto other = pattern(4096, 10);
    CHECK(io.compare(1, 100, 8, other) == proto::status::kCompareFailure);
    CHECK(io.write_zeroes(1, 100, 4).ok());
    std::vector<std::byte> back(4096);
    REQUIRE(io.read(1, 100, 8, back).ok());
    CHECK(std::all_of(back.begin(), back.begin() + 2048, [](std::byte b) { return b == std::byte{0}; }));
    CHECK(std::equal(back.begin() + 2048, back.end(), data.begin() + 2048));
    proto::DsmRange range{0, 4, 104};
    CHECK(io.deallocate(1, std::span(&range, 1)).ok());
    REQUIRE(io.read(1, 100, 8, back).ok());
    CHECK(std::all_of(back.begin(), back.end(), [](std::byte b) { return b == std::byte{0}; }));
    CHECK(io.flush(1).ok());
    uint64_t last = (64u << 20) / 512;
    CHECK(io.read(1, last, 1, std::span(back).first(512)) == proto::status::kLbaOutOfRange);
    CHECK(io.read(2, 0, 1, std::span(back).first(512)) == proto::status::kInvalidNamespace);
    CHECK(target.violations().empty());
}

TEST_CASE("pipelined submission keeps QD commands in flight") {
    FakeTargetOptions fo;
    fo.c2h_chunk = 2048;
    FakeTarget target(fo);
    TransportOptions t;
    t.data_digest = true;
    Controller ctrl = Controller::connect(endpoint_of(target), options_for(target, t));
    IoQueue io = ctrl.connect_io_queue(1, 32);
    Queue& q = io.queue();

    constexpr size_t kBlocks = 2000;
    constexpr size_t kBs = 4096;
    std::vector<std::byte> disk = pattern(kBlocks * kBs, 77);
    size_t next = 0;
    size_t done = 0;
    size_t errors = 0;
    struct Ctx {
        size_t* done;
        size_t* errors;
    } ctx{&done, &errors};
    auto on_done = [&ctx](const Completion& c) {
        ++*ctx.done;
        if (!c.status.ok()) ++*ctx.errors;
    };
    // Writes, then reads, each with up to 32 in flight.
    auto pump = [&](bool writing, std::vector<std::byte>& buffer) {
        next = 0;
        done = 0;
        while (done < kBlocks) {
            while (next < kBlocks && !q.full()) {
                auto span = std::span(buffer).subspan(next * kBs, kBs);
                if (writing)
                    q.submit(cmd::write(1, next * 8, 8), Transfer::to_controller(span), on_done);
                else
                    q.submit(cmd::read(1, next * 8, 8), Transfer::from_controller(span), on_done);
                ++next;
            }
            q.poll(100ms);
        }
    };
    pump(true, disk);
    std::vector<std::byte> back(disk.size());
    pump(false, back);
    CHECK(errors == 0);
    CHECK(back == disk);
    CHECK(q.in_flight() == 0);
    CHECK(target.violations().empty());
}

TEST_CASE("discovery log: header, records, generation") {
    FakeTarget target;
    DiscoveryLog log = discover(endpoint_of(target), options_for(target));
    CHECK(log.generation == 7);
    REQUIRE(log.entries.size() == 2);
    auto sub = first_nvm_subsystem(log);
    REQUIRE(sub);
    CHECK(sub->subnqn == target.options().subnqn);
    CHECK(sub->traddr == "127.0.0.1");
    CHECK(sub->trsvcid == "4420");
    CHECK(describe(*sub).find("nvme subsystem") != std::string::npos);
}

TEST_CASE("asynchronous event requests stay outstanding without timing out") {
    FakeTarget target;
    ControllerOptions o = options_for(target);
    o.queue.command_timeout = 200ms;
    Controller ctrl = Controller::connect(endpoint_of(target), o);
    bool fired = false;
    ctrl.submit_async_event([&fired](const Completion&) { fired = true; });
    auto until = Clock::now() + 500ms;
    while (Clock::now() < until) ctrl.admin().poll(50ms);
    CHECK_FALSE(fired);
    CHECK(ctrl.keep_alive().ok());
}

namespace {

// Connects with the fault armed, then runs `io_action`; returns the message of
// the exception it must throw.
template <typename Exception>
std::string fault_message(Fault fault, TransportOptions t = {}, bool write = false, bool success_flag = false) {
    FakeTargetOptions fo;
    fo.fault = fault;
    FakeTarget target(fo);
    ControllerOptions o = options_for(target, t);
    o.queue.command_timeout = 500ms;
    Controller ctrl = Controller::connect(endpoint_of(target), o);
    IoQueueOptions qo;
    qo.queue.command_timeout = 500ms;
    qo.disable_sq_flow_control = success_flag;
    IoQueue io = ctrl.connect_io_queue(1, 4, qo);
    std::vector<std::byte> buffer(8192);
    try {
        if (write)
            io.write(1, 0, 16, buffer);
        else
            io.read(1, 0, 16, buffer);
    } catch (const Exception& e) {
        // The queue stays failed: the next call says so instead of hanging.
        CHECK_THROWS_WITH_AS(io.read(1, 0, 16, buffer), doctest::Contains("unusable after an earlier error"),
                             ConnectionError);
        return e.what();
    }
    FAIL("no exception");
    return {};
}

}  // namespace

TEST_CASE("target misbehaviour is reported, never a crash or hang") {
    TransportOptions digests;
    digests.header_digest = true;
    digests.data_digest = true;
    CHECK(fault_message<ProtocolError>(Fault::CorruptHeaderDigest, digests).find("C2HData header digest") !=
          std::string::npos);
    CHECK(fault_message<ProtocolError>(Fault::CorruptDataDigest, digests).find("data digest") != std::string::npos);
    CHECK(fault_message<ProtocolError>(Fault::MisalignedPdo).find("PDO 26 is not a multiple of 4") != std::string::npos);
    CHECK(fault_message<ProtocolError>(Fault::UnknownCid).find("not outstanding") != std::string::npos);
    CHECK(fault_message<ProtocolError>(Fault::UnknownCid, {}, true).find("not outstanding") != std::string::npos);
    CHECK(fault_message<ProtocolError>(Fault::DataOutOfOrder).find("DATAO 512") != std::string::npos);
    CHECK(fault_message<ProtocolError>(Fault::ShortReadSuccess).find("after only 4096 of 8192") != std::string::npos);
    CHECK(fault_message<ProtocolError>(Fault::R2TOverrun, {}, true).find("R2T asks for bytes 0..12288") !=
          std::string::npos);
    CHECK(fault_message<ProtocolError>(Fault::SuccessFlagWithoutLast, {}, false, true).find("without LAST_PDU") !=
          std::string::npos);
    std::string term = fault_message<TermReqError>(Fault::TermReq);
    CHECK(term.find("FES 1 (invalid PDU header field)") != std::string::npos);
    CHECK(fault_message<ConnectionError>(Fault::CloseConnection).find("closed the connection") != std::string::npos);
    std::string timeout = fault_message<TimeoutError>(Fault::NoResponse);
    CAPTURE(timeout);
    CHECK(timeout.find("within 500 ms") != std::string::npos);
}

TEST_CASE("bad ICResp is refused") {
    for (Fault f : {Fault::IcRespSmallMaxH2CData, Fault::IcRespExtraDigest}) {
        FakeTargetOptions fo;
        fo.fault = f;
        FakeTarget target(fo);
        CHECK_THROWS_AS(Controller::connect(endpoint_of(target), options_for(target)), ProtocolError);
    }
    FakeTargetOptions fo;
    fo.fault = Fault::IcRespTermReq;
    FakeTarget target(fo);
    try {
        Controller::connect(endpoint_of(target), options_for(target));
        FAIL("connect should have failed");
    } catch (const TermReqError& e) {
        CHECK(e.fes() == 6);
        CHECK(std::string(e.what()).find("in answer to ICReq") != std::string::npos);
    }
}

TEST_CASE("connect to a closed port and timeouts are errors") {
    uint16_t port;
    {
        FakeTarget target;
        port = target.port();
    }
    TransportOptions t;
    t.connect_timeout = 500ms;
    CHECK_THROWS_AS(Connection::open({"127.0.0.1", port}, t), ConnectionError);
}

TEST_CASE("raw mode: hostile ICReq gets a termination request and a close") {
    FakeTarget target;
    RawConnection raw = RawConnection::open(endpoint_of(target));
    proto::tcp::ICReq req = pdu::build_icreq({});
    req.hpda = 32;
    raw.send_struct(req);
    TermRequest t = raw.expect_term_req(2000ms);
    CHECK(t.fes == static_cast<uint16_t>(proto::tcp::TermFes::UnsupportedParameter));
    CHECK(t.fei == 10);
    CHECK(raw.wait_closed(2000ms));
}

TEST_CASE("raw mode: a capsule before ICReq is a sequence error") {
    FakeTarget target;
    RawConnection raw = RawConnection::open(endpoint_of(target));
    raw.send(pdu::capsule_bytes(cmd::keep_alive(), {}, TransportParams{}));
    // The fake target reads 128 bytes for an ICReq first; pad so it sees them.
    raw.send(std::vector<std::byte>(128 - 72));
    TermRequest t = raw.expect_term_req(2000ms);
    CHECK(t.fes == static_cast<uint16_t>(proto::tcp::TermFes::PduSequenceError));
    CHECK(raw.wait_closed(2000ms));
}

TEST_CASE("raw mode: handshake then a hand-built capsule") {
    FakeTarget target;
    RawConnection raw = RawConnection::open(endpoint_of(target));
    proto::tcp::ICResp resp = raw.handshake();
    CHECK(resp.maxh2cdata == target.options().maxh2cdata);
    proto::Sqe sqe = cmd::property_get(0, cmd::PropertySize::Eight);
    sqe.flags = 0x40;
    sqe.cid = 3;
    sqe.sgl.type = proto::sgl::kTransport;
    raw.send(pdu::capsule_bytes(sqe, {}, TransportParams{}));
    auto pdu = raw.receive_pdu(2000ms);
    REQUIRE(pdu);
    CHECK(pdu->header.type == proto::tcp::PduType::CapsuleResp);
    auto resp_pdu = pdu->as<proto::tcp::CapsuleResp>();
    CHECK(resp_pdu.cqe.cid == 3);
    CHECK(proto::Status::from_cqe(resp_pdu.cqe.status) == proto::status::kCommandSequenceError);
    CHECK_THROWS_AS(raw.receive_some(16, 100ms), TimeoutError);
}
