// Hostile hosts against the NVMe/TCP transport's resources: data for a
// transfer tag that was never handed out, hosts that do not read, hosts
// that connect and say nothing or trickle bytes, a daemon out of file
// descriptors, deep queues. Each is refused or bounded; other hosts keep
// being served.
#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>
#include <unistd.h>
#include <vector>


#include "tests/integration/log_wait.hpp"
#include "tests/integration/nvmfd_process.hpp"
#include "tests/integration/policy_state.hpp"
#include "tests/integration/process_stats.hpp"
#include "tools/host/commands.hpp"
#include "tools/host/controller.hpp"
#include "tools/host/errors.hpp"
#include "tools/host/io_queue.hpp"
#include "tools/host/pdu_build.hpp"
#include "tools/host/pdu_checks.hpp"
#include "tools/host/raw_connection.hpp"

using namespace nvmfd;
using namespace nvmfd::host;
using namespace std::chrono_literals;
using proto::tcp::TermFes;
using testing::NvmfdProcess;
using testing::count_of;
using testing::cpu_share;
using testing::rss_bytes;
namespace status = proto::status;
namespace tcp = proto::tcp;

namespace {

using Steady = std::chrono::steady_clock;

testing::DaemonOptions with_config(std::string tcp_settings, std::vector<std::string> args = {}) {
    testing::DaemonOptions o;
    o.config_text = "[transport.tcp]\n" + std::move(tcp_settings);
    o.extra_args = std::move(args);
    return o;
}

ControllerOptions default_subsystem() {
    ControllerOptions o;
    o.subnqn = NvmfdProcess::default_nqn();
    o.kato_ms = 30000;
    return o;
}

Endpoint endpoint_of(const NvmfdProcess& d) { return {"127.0.0.1", d.port()}; }

std::vector<std::byte> pattern(size_t len, unsigned seed) {
    std::vector<std::byte> v(len);
    std::mt19937 rng(seed);
    for (auto& b : v) b = std::byte(rng());
    return v;
}

// A fresh host writes `len` bytes at `lba` and reads them back.
void verified_io(const NvmfdProcess& d, uint64_t lba, size_t len, unsigned seed) {
    Controller c = Controller::connect(endpoint_of(d), default_subsystem());
    c.request_io_queues(1);
    IoQueue io = c.connect_io_queue(1, 32);
    auto data = pattern(len, seed);
    REQUIRE(io.write(1, lba, uint32_t(len / 512), data) == status::kSuccess);
    std::vector<std::byte> back(len);
    REQUIRE(io.read(1, lba, uint32_t(len / 512), back) == status::kSuccess);
    CHECK(back == data);
}

// After a flood that used up the daemon's descriptors went away: the
// descriptors come back as the target sees those hosts go, and a new host
// gets in (retried for up to 10 s).
void verified_io_once_descriptors_return(const NvmfdProcess& d) {
    auto deadline = Steady::now() + 10s;
    for (;;) {
        try {
            verified_io(d, 0, 4096, 10);
            return;
        } catch (const std::exception& e) {
            if (Steady::now() > deadline)
                FAIL("no host could connect again: " << std::string(e.what()) << "; nvmfd's log:\n" << d.log());
            std::this_thread::sleep_for(200ms);
        }
    }
}

proto::Sqe placed(proto::Sqe sqe, uint8_t sgl_type, size_t len) {
    sqe.sgl = {};
    sqe.sgl.type = sgl_type;
    sqe.sgl.length = static_cast<uint32_t>(len);
    return sqe;
}

std::vector<std::byte> connect_capsule(const Controller* admin, uint16_t qid, const std::string& subnqn,
                                       uint8_t sgl_type, const TransportParams& params) {
    std::array<uint8_t, 16> hostid{1, 2, 3};
    std::string hostnqn = "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-00000000c0de";
    uint16_t cntlid = 0xffff;
    if (admin) {
        hostid = admin->options().host.hostid;
        hostnqn = admin->options().host.hostnqn;
        cntlid = admin->cntlid();
    }
    auto data = cmd::connect_data(hostid, cntlid, subnqn, hostnqn);
    auto sqe = placed(cmd::connect({.qid = qid, .sqsize = 15}), sgl_type, sizeof data);
    bool in_capsule = sgl_type == proto::sgl::kInCapsule;
    return pdu::capsule_bytes(sqe, in_capsule ? pdu::as_bytes_of(data) : std::span<const std::byte>{}, params);
}

// I/O queue 1 of `admin`'s controller as a raw connection, after ICReq and Connect.
RawConnection raw_io_queue(const NvmfdProcess& d, const Controller& admin, TransportOptions asked,
                           TransportParams& params) {
    RawConnection r = RawConnection::open(endpoint_of(d));
    params = pdu::check_icresp(r.handshake(asked), asked);
    r.send(connect_capsule(&admin, 1, NvmfdProcess::default_nqn(), proto::sgl::kInCapsule, params));
    auto pdu = r.receive_pdu(5s);
    REQUIRE(pdu);
    REQUIRE(pdu->header.type == tcp::PduType::CapsuleResp);
    REQUIRE(proto::Status::from_cqe(pdu->as<tcp::CapsuleResp>().cqe.status) == status::kSuccess);
    return r;
}

// What a host sees after an attack: R2Ts may come, then a termination
// request. Returns it; fails on any CapsuleResp (a completion for a command
// whose data never properly came).
TermRequest term_req_without_completions(RawConnection& r) {
    for (;;) {
        auto pdu = r.receive_pdu(5s);
        REQUIRE(pdu);
        REQUIRE(pdu->header.type != tcp::PduType::CapsuleResp);
        if (pdu->header.type == tcp::PduType::C2HTermReq) {
            auto t = pdu->as<tcp::TermReq>();
            uint32_t fei;
            std::memcpy(&fei, t.fei, sizeof fei);
            return TermRequest{t.fes, fei, {}};
        }
        REQUIRE(pdu->header.type == tcp::PduType::R2T);
    }
}

// A write of `len` bytes through R2T and, in the same send, its H2CData for
// TTAG `guessed_ttag`, before the target could have sent the R2T.
std::vector<std::byte> write_with_guessed_h2c(uint32_t len, uint16_t cid, uint16_t guessed_ttag,
                                              const TransportParams& params) {
    auto sqe = placed(cmd::write(1, 0, len / 512), proto::sgl::kTransport, len);
    sqe.cid = cid;
    auto bytes = pdu::capsule_bytes(sqe, {}, params);
    auto data = pattern(len, cid);
    for (uint32_t off = 0; off < len; off += params.maxh2cdata) {
        uint32_t n = std::min(params.maxh2cdata, len - off);
        auto h2c = pdu::h2c_data_bytes(
            {.cccid = cid, .ttag = guessed_ttag, .datao = off, .last = off + n == len},
            std::span(data).subspan(off, n), params);
        bytes.insert(bytes.end(), h2c.begin(), h2c.end());
    }
    return bytes;
}

// Sends an attack; the target may close the connection before taking all
// of it (the send then fails), and its answer is still read afterwards.
void send_attack(RawConnection& r, std::span<const std::byte> bytes) {
    try {
        r.send(bytes);
    } catch (const std::exception&) {
    }
}

// `count` commands of 1 MiB each from controller to host on `queue`,
// whose responses are not read until drain().
struct UnreadResponses {
    Queue& queue;
    std::vector<std::vector<std::byte>> buffers;
    size_t completed = 0;

    template <typename MakeSqe>
    UnreadResponses(Queue& q, size_t count, MakeSqe&& sqe_for) : queue(q), buffers(count) {
        for (size_t i = 0; i < count; ++i) {
            buffers[i].resize(1u << 20);
            queue.submit(sqe_for(i), Transfer::from_controller(buffers[i]), [this](const Completion& c) {
                CHECK(c.status.ok());
                ++completed;
            });
        }
        queue.flush();
    }
    // Starts reading: every command completes, nothing was lost.
    void drain() { queue.run_until([&] { return completed == buffers.size(); }, 30s, "unread responses"); }
};

// A discovery host that asks for `count` log pages of 1 MiB and reads nothing.
struct NonReadingHost {
    Controller discovery;
    UnreadResponses unread;

    NonReadingHost(const NvmfdProcess& d, size_t count)
        : discovery(Controller::connect(endpoint_of(d), options(count))),
          unread(discovery.admin(), count, [](size_t) {
              return cmd::get_log_page(uint8_t(proto::LogPageId::Discovery), 1u << 20);
          }) {}
    static ControllerOptions options(size_t count) {
        ControllerOptions o;  // the discovery NQN
        o.admin_depth = static_cast<uint16_t>(count + 1);
        return o;
    }
    void drain() { unread.drain(); }
};

// A scratch directory for namespace files, removed at the end.
struct ScratchDir {
    std::filesystem::path path;
    ScratchDir() {
        char tmpl[] = "/var/tmp/nvmfd-tcp-it-XXXXXX";
        path = ::mkdtemp(tmpl);
    }
    ~ScratchDir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
};

// The default NQN served from a file by the uring backend (reads go into pool pages).
std::string uring_state(const std::filesystem::path& file) {
    std::string nqn = NvmfdProcess::default_nqn();
    return R"({"version": 1, "subsystems": [{"nqn": ")" + nqn +
           R"(", "allow_any_host": true, "namespaces": [{"nsid": 1, "backend": "uring", "params": {"path": ")" +
           file.string() + R"(", "size": "64M", "create": "true"}}]}], "ports": [{"id": 1, "address": "127.0.0.1", )" +
           R"("service": "@PORT@", "subsystems": [")" + nqn + R"("]}]})";
}

// A daemon serving the default NQN from a uring file, with a small pool.
testing::DaemonOptions uring_daemon(const ScratchDir& scratch, std::string tcp_settings, const char* pool) {
    testing::DaemonOptions o = with_config(std::move(tcp_settings), {"--buffer-pool", pool});
    o.state_json = uring_state(scratch.path / "ns1.img");
    return o;
}

// A host that sends `count` 1 MiB uring reads (which execute into pool
// pages) on a deep I/O queue and reads nothing until drained.
struct UringReadHog {
    Controller admin;
    IoQueue io;
    UnreadResponses unread;

    UringReadHog(const NvmfdProcess& d, size_t count)
        : admin(Controller::connect(endpoint_of(d), default_subsystem())),
          io((admin.request_io_queues(2), admin.connect_io_queue(2, 127))),
          unread(io.queue(), count, [](size_t i) { return cmd::read(1, i * 2048, 2048); }) {
        std::this_thread::sleep_for(500ms);
    }
};

}  // namespace

TEST_CASE("H2CData sent before its R2T, for a guessed transfer tag, is refused") {
    NvmfdProcess d(with_config(""));
    SUBCASE("a write on an I/O queue") {
        Controller admin = Controller::connect(endpoint_of(d), default_subsystem());
        admin.request_io_queues(1);
        TransportParams params;
        RawConnection r = raw_io_queue(d, admin, {}, params);
        send_attack(r, write_with_guessed_h2c(1u << 20, 1, /*slot 0*/ 1, params));
        TermRequest t = term_req_without_completions(r);
        CHECK(t.fes == uint16_t(TermFes::InvalidHeaderField));
        CHECK(t.fei == offsetof(tcp::DataPdu, ttag));
        CHECK(r.wait_closed(5s));
    }
    SUBCASE("a discovery Connect whose data comes by R2T (the bootstrap slot, TTAG 0)") {
        RawConnection r = RawConnection::open(endpoint_of(d));
        TransportParams params = pdu::check_icresp(r.handshake({}), {});
        auto bytes = connect_capsule(nullptr, 0, proto::kDiscoveryNqn, proto::sgl::kTransport, params);
        auto data = cmd::connect_data({1}, 0xffff, proto::kDiscoveryNqn, "nqn.2014-08.org.nvmexpress:uuid:x");
        auto h2c = pdu::h2c_data_bytes({.cccid = 0, .ttag = 0, .datao = 0, .last = true}, pdu::as_bytes_of(data),
                                       params);
        bytes.insert(bytes.end(), h2c.begin(), h2c.end());
        send_attack(r, bytes);
        TermRequest t = term_req_without_completions(r);
        CHECK(t.fes == uint16_t(TermFes::InvalidHeaderField));
        CHECK(t.fei == offsetof(tcp::DataPdu, ttag));
        CHECK(r.wait_closed(5s));
    }
    verified_io(d, 0, 1u << 20, 5);
    CHECK(d.running());
}

TEST_CASE("repeated guessed-TTAG writes leak no slot, page or in-flight count") {
    // 96 rounds of 1 MiB: more than the 64 MiB pool if any round leaked its pages.
    NvmfdProcess d(with_config(""));
    for (int round = 0; round < 96; ++round) {
        CAPTURE(round);
        Controller admin = Controller::connect(endpoint_of(d), default_subsystem());
        admin.request_io_queues(1);
        TransportParams params;
        RawConnection r = raw_io_queue(d, admin, {}, params);
        send_attack(r, write_with_guessed_h2c(1u << 20, uint16_t(round), 1, params));
        term_req_without_completions(r);
        REQUIRE(r.wait_closed(5s));
    }
    verified_io(d, 2048, 1u << 20, 6);
}

TEST_CASE("zero-length H2CData with data digests on is refused without losing the stream") {
    NvmfdProcess d(with_config(""));
    Controller admin = Controller::connect(endpoint_of(d), default_subsystem());
    admin.request_io_queues(1);
    TransportParams params;
    RawConnection r = raw_io_queue(d, admin, {.data_digest = true}, params);
    REQUIRE(params.data_digest);
    auto sqe = placed(cmd::write(1, 0, 16), proto::sgl::kTransport, 8192);
    sqe.cid = 3;
    r.send(pdu::capsule_bytes(sqe, {}, params));
    auto pdu = r.receive_pdu(5s);
    REQUIRE(pdu);
    REQUIRE(pdu->header.type == tcp::PduType::R2T);
    tcp::R2T r2t = pdu->as<tcp::R2T>();
    // No data, so no data digest either; a valid H2CData follows at once.
    tcp::DataPdu empty{};
    empty.ch.type = tcp::PduType::H2CData;
    empty.ch.flags = tcp::flags::kDataDigest;
    empty.ch.hlen = sizeof empty;
    empty.ch.plen = sizeof empty;
    empty.cccid = 3;
    empty.ttag = r2t.ttag;
    auto bytes = std::vector<std::byte>(pdu::as_bytes_of(empty).begin(), pdu::as_bytes_of(empty).end());
    auto data = pattern(8192, 3);
    auto valid = pdu::h2c_data_bytes({.cccid = 3, .ttag = r2t.ttag, .datao = 0, .last = true}, data, params);
    bytes.insert(bytes.end(), valid.begin(), valid.end());
    r.send(bytes);
    // The empty PDU itself is named, not a field of a misread next PDU.
    TermRequest t = r.expect_term_req(5s);
    CHECK(t.fes == uint16_t(TermFes::InvalidHeaderField));
    CHECK(t.fei == offsetof(tcp::DataPdu, datal));
    CHECK(r.wait_closed(5s));
    verified_io(d, 0, 8192, 4);
}

TEST_CASE("a host that does not read its responses cannot starve another host") {
    // 64 MiB asked for, from a 32 MiB pool (the socket buffers take some of
    // it: about 10 MiB on loopback).
    SUBCASE("discovery log pages") {
        NvmfdProcess d(with_config("", {"--buffer-pool", "32M"}));
        NonReadingHost hog(d, 64);
        std::this_thread::sleep_for(500ms);
        verified_io(d, 0, 1u << 20, 8);
        verified_io(d, 4096, 128u << 10, 9);
        hog.drain();
    }
    SUBCASE("reads into pool pages, all sent at once on a deep I/O queue") {
        ScratchDir scratch;
        NvmfdProcess d(uring_daemon(scratch, "", "32M"));
        UringReadHog hog(d, 64);
        verified_io(d, 0, 1u << 20, 12);
        hog.unread.drain();
    }
}

TEST_CASE("a connection waiting for pool pages does not make the reactor spin") {
    // A pool smaller than what one connection may hold: a host that does not
    // read its uring reads (which execute into pool pages) takes all of it,
    // and a second one's Connect then waits for pages while more of its
    // bytes sit in the socket. (Discovery log pages would not do: their
    // zeroes past the log's end take no pool pages.)
    ScratchDir scratch;
    NvmfdProcess d(uring_daemon(scratch, "max_connection_buffer = 16M\n", "8M"));
    UringReadHog hog(d, 32);
    RawConnection r = RawConnection::open(endpoint_of(d));
    TransportParams params = pdu::check_icresp(r.handshake({}), {});
    auto bytes = connect_capsule(nullptr, 0, NvmfdProcess::default_nqn(), proto::sgl::kInCapsule, params);
    // Keep-alives queued behind the Connect: more than the receive buffer holds.
    auto ka = pdu::capsule_bytes(cmd::keep_alive(), {}, params);
    for (size_t i = 0; bytes.size() < (256u << 10); ++i) bytes.insert(bytes.end(), ka.begin(), ka.end());
    r.send(bytes);
    CHECK_THROWS_AS(r.receive_pdu(300ms), TimeoutError);  // the Connect is waiting
    double share = cpu_share(d.pid(), 2000ms);
    MESSAGE("nvmfd CPU while a connection waits for pages: " << share * 100 << "% of a core");
    CHECK(share < 0.5);
    // Pages come back: the waiting Connect completes.
    hog.unread.drain();
    auto pdu = r.receive_pdu(10s);
    REQUIRE(pdu);
    REQUIRE(pdu->header.type == tcp::PduType::CapsuleResp);
    CHECK(proto::Status::from_cqe(pdu->as<tcp::CapsuleResp>().cqe.status) == status::kSuccess);
}

TEST_CASE("connections that do not connect, or stall inside a PDU, are closed; idle controllers are not") {
    NvmfdProcess d(with_config("connect_timeout_ms = 1000\npdu_stall_timeout_ms = 1000\n"));
    Controller idle = Controller::connect(endpoint_of(d), default_subsystem());
    auto closed_within = [](RawConnection& r, std::chrono::milliseconds limit) {
        auto start = Steady::now();
        bool closed = r.wait_closed(limit);
        MESSAGE("closed after " << std::chrono::duration_cast<std::chrono::milliseconds>(Steady::now() - start).count()
                                << " ms");
        return closed;
    };
    SUBCASE("no ICReq") {
        RawConnection r = RawConnection::open(endpoint_of(d));
        CHECK(closed_within(r, 3000ms));
        CHECK(d.log().find("no ICReq and Connect within 1000 ms") != std::string::npos);
    }
    SUBCASE("ICReq but no Connect") {
        RawConnection r = RawConnection::open(endpoint_of(d));
        r.handshake({});
        CHECK(closed_within(r, 3000ms));
        CHECK(d.log().find("no Connect within 1000 ms") != std::string::npos);
    }
    SUBCASE("a connected queue trickling a command header byte by byte") {
        Controller admin = Controller::connect(endpoint_of(d), default_subsystem());
        admin.request_io_queues(1);
        TransportParams params;
        RawConnection r = raw_io_queue(d, admin, {}, params);
        auto capsule = pdu::capsule_bytes(cmd::flush(1), {}, params);
        auto start = Steady::now();
        bool closed = false;
        for (size_t i = 0; i < capsule.size() && !closed && Steady::now() - start < 4s; ++i) {
            try {
                r.send(std::span(capsule).subspan(i, 1));
                closed = r.wait_closed(200ms);
            } catch (const std::exception&) {
                closed = true;  // the target reset the connection
            }
        }
        CHECK(closed);
        CHECK(Steady::now() - start < 3s);
        CHECK(d.log().find("still incomplete") != std::string::npos);
    }
    // The idle but connected controller was left alone.
    std::this_thread::sleep_for(1500ms);
    CHECK(idle.keep_alive() == status::kSuccess);
    CHECK(d.log().find("tcp: closing connection from") != std::string::npos);
}

TEST_CASE("out of file descriptors, the listener backs off instead of spinning") {
    testing::DaemonOptions o;
    o.max_open_files = 64;
    NvmfdProcess d(o);
    // A host first: its connections come and go while descriptors are
    // plentiful (a sanitizer build's first dynamic type check of an object
    // needs a pipe(), which fails without descriptors).
    verified_io(d, 0, 4096, 11);
    std::this_thread::sleep_for(200ms);
    std::vector<RawConnection> flood;
    for (int i = 0; i < 100; ++i) flood.push_back(RawConnection::open(endpoint_of(d)));
    std::this_thread::sleep_for(500ms);
    double share = cpu_share(d.pid(), 2000ms);
    MESSAGE("nvmfd CPU out of file descriptors: " << share * 100 << "% of a core");
    CHECK(share < 0.5);
    size_t lines = count_of(d.log(), "Too many open files");
    MESSAGE(lines << " log lines about it");
    CHECK(lines >= 1);
    CHECK(lines < 20);
    flood.clear();
    verified_io_once_descriptors_return(d);
}

TEST_CASE("deep queues cost little memory until they carry data, and data of every size still moves") {
    NvmfdProcess d(with_config(""));
    Controller admin = Controller::connect(endpoint_of(d), default_subsystem());
    constexpr uint16_t kQueues = 16;
    admin.request_io_queues(kQueues);
    std::this_thread::sleep_for(200ms);
    size_t before = rss_bytes(d.pid());
    std::vector<IoQueue> queues;
    for (uint16_t q = 1; q <= kQueues; ++q) queues.push_back(admin.connect_io_queue(q, 1023));
    std::this_thread::sleep_for(200ms);
    size_t after = rss_bytes(d.pid());
    double per_slot = double(after - before) / (kQueues * 1024.0);
    MESSAGE("nvmfd RSS " << before / 1024 << " KiB -> " << after / 1024 << " KiB for " << kQueues
                         << " queues of 1024: " << per_slot << " bytes per idle slot");
    CHECK(per_slot < 2048);
    IoQueue& io = queues.front();
    uint64_t lba = 0;
    for (size_t len = 4096; len <= (1u << 20); len *= 2) {
        CAPTURE(len);
        auto data = pattern(len, unsigned(len));
        REQUIRE(io.write(1, lba, uint32_t(len / 512), data) == status::kSuccess);
        std::vector<std::byte> back(len);
        REQUIRE(io.read(1, lba, uint32_t(len / 512), back) == status::kSuccess);
        CHECK(back == data);
        CHECK(io.compare(1, lba, uint32_t(len / 512), data) == status::kSuccess);
        data[len / 2] ^= std::byte{1};
        CHECK(io.compare(1, lba, uint32_t(len / 512), data) == status::kCompareFailure);
        lba += len / 512;
    }
}

TEST_CASE("commands beyond max_connection_buffer wait without stopping the stream their data is in") {
    // A 1 MiB budget and 48 writes of 128 KiB fetched by R2T, with reads in
    // between: the budget fills with writes whose H2CData is still in the
    // stream behind later commands. Stopping input at the cap deadlocked
    // here (the kernel host saw I/O timeouts under ext4 writes).
    NvmfdProcess d(with_config("max_connection_buffer = 1M\n"));
    Controller c = Controller::connect(endpoint_of(d), default_subsystem());
    c.request_io_queues(1);
    IoQueue io = c.connect_io_queue(1, 127);
    constexpr size_t kWrites = 48, kLen = 128 * 1024;
    std::vector<std::vector<std::byte>> data(kWrites), reads(kWrites);
    size_t completed = 0;
    for (size_t i = 0; i < kWrites; ++i) {
        data[i] = pattern(kLen, unsigned(100 + i));
        reads[i].resize(kLen);
        uint64_t lba = i * (kLen / 512);
        io.queue().submit(cmd::write(1, lba, kLen / 512), Transfer::to_controller(data[i]), [&](const Completion& r) {
            CHECK(r.status == status::kSuccess);
            ++completed;
        });
        io.queue().submit(cmd::read(1, 100000 + lba, kLen / 512), Transfer::from_controller(reads[i]),
                          [&](const Completion& r) {
                              CHECK(r.status == status::kSuccess);
                              ++completed;
                          });
    }
    io.queue().flush();
    io.queue().run_until([&] { return completed == 2 * kWrites; }, 30s, "writes and reads beyond the budget");
    for (size_t i = 0; i < kWrites; ++i) {
        std::vector<std::byte> back(kLen);
        REQUIRE(io.read(1, i * (kLen / 512), kLen / 512, back) == status::kSuccess);
        CHECK(back == data[i]);
    }
}

TEST_CASE("a port that cannot accept hosts is down for policies, and up again once it can") {
    const std::string nqn = testing::NvmfdProcess::default_nqn();
    testing::DaemonOptions o;
    o.state_json = testing::state_with_policy(
        nqn, "ports",
        "function on_port_change(i) nvmfd.log('notice', 'port ' .. i.port .. ' ' .. i.change .. ' (' .. "
        "(i.reason or '-') .. ')') end");
    o.max_open_files = 64;
    NvmfdProcess d(o);
    verified_io(d, 0, 4096, 11);
    std::this_thread::sleep_for(200ms);
    std::vector<RawConnection> flood;
    for (int i = 0; i < 100; ++i) flood.push_back(RawConnection::open(endpoint_of(d)));
    CHECK(testing::log_shows(d, "port 1 down (accept: Too many open files)"));
    flood.clear();
    verified_io_once_descriptors_return(d);
    CHECK(testing::log_shows(d, "port 1 up (-)"));
}
