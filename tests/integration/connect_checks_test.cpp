// What a host can and cannot do at Connect, and what it can make the target
// hold: empty host NQNs (SPDK's tools), NQNs that would forge log lines,
// I/O queues through the wrong port, controller limits, fused commands, and
// log pages read far past their end. Every refusal is logged for the admin.
#include <doctest/doctest.h>

#include <array>
#include <cstring>
#include <random>
#include <sstream>
#include <thread>
#include <vector>

#include "tests/integration/log_wait.hpp"
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
using testing::NvmfdProcess;
using testing::eventually;
using testing::log_line_with;
using testing::expect_response;
using testing::in_capsule;
using testing::via_transport;
namespace status = proto::status;
namespace tcp = proto::tcp;

namespace {

const std::string kDefault = NvmfdProcess::default_nqn();
const std::string kRestricted = "nqn.2026-11.io.nvmfd:restricted";
const std::string kAllowed = "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-00000000a110";

// Port 1 exports both subsystems; port 2 only the restricted one.
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
             "subsystems": ["nqn.2026-11.io.nvmfd:default", "nqn.2026-11.io.nvmfd:restricted"]},
            {"id": 2, "address": "127.0.0.1", "service": "@PORT2@",
             "subsystems": ["nqn.2026-11.io.nvmfd:restricted"]}]
})";

testing::DaemonOptions daemon_options(std::vector<std::string> extra = {}) {
    testing::DaemonOptions o;
    o.state_json = kState;
    o.extra_args = std::move(extra);
    return o;
}

ControllerOptions to(const std::string& subnqn, const std::string& hostnqn = {}) {
    ControllerOptions o;
    o.subnqn = subnqn;
    if (!hostnqn.empty()) {
        o.host.hostnqn = hostnqn;
        o.host.hostid = {0x42, 1};
    }
    return o;
}

TransportParams plain_params() { return TransportParams{}; }

struct RawConnect {
    std::string subnqn;
    std::string hostnqn;
    uint16_t qid = 0;
    uint16_t sqsize = 31;
    uint16_t cntlid = 0xffff;
    uint8_t recfmt = 0;
};

// A Connect written byte by byte, so that any field can be wrong.
proto::Cqe raw_connect(RawConnection& r, const RawConnect& c) {
    r.handshake({});
    std::array<uint8_t, 16> hostid{7, 7, 7};
    proto::ConnectData data = cmd::connect_data(hostid, c.cntlid, c.subnqn, "");
    // connect_data copies at most the field's size; write the NQN as given
    // (it may be unterminated, non-UTF-8, or carry a newline).
    std::memset(data.hostnqn, 0, sizeof data.hostnqn);
    std::memcpy(data.hostnqn, c.hostnqn.data(), std::min(c.hostnqn.size(), sizeof data.hostnqn));
    proto::Sqe sqe = in_capsule(cmd::connect({.qid = c.qid, .sqsize = c.sqsize}), sizeof data);
    proto::ConnectCommand cc;
    std::memcpy(&cc, &sqe, sizeof cc);
    cc.recfmt = c.recfmt;
    std::memcpy(&sqe, &cc, sizeof cc);
    r.send(pdu::capsule_bytes(sqe, pdu::as_bytes_of(data), plain_params()));
    return expect_response(r);
}

proto::Status status_of(const proto::Cqe& c) { return proto::Status::from_cqe(c.status); }

std::vector<std::string> log_lines(const NvmfdProcess& d) {
    std::vector<std::string> lines;
    std::istringstream in(d.log());
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
}


std::vector<std::byte> pattern(size_t n, unsigned seed) {
    std::vector<std::byte> v(n);
    std::mt19937 rng(seed);
    for (auto& b : v) b = std::byte(rng());
    return v;
}

void verified_io(Controller& c, unsigned seed) {
    c.request_io_queues(1);
    IoQueue io = c.connect_io_queue(1, 16);
    auto data = pattern(64 * 1024, seed);
    REQUIRE(io.write(1, 256 * seed, 128, data) == status::kSuccess);
    std::vector<std::byte> back(data.size());
    REQUIRE(io.read(1, 256 * seed, 128, back) == status::kSuccess);
    CHECK(back == data);
}


}  // namespace

TEST_CASE("an empty host NQN gets in where any host may, never through an allow-list") {
    NvmfdProcess d(daemon_options());
    Endpoint ep{"127.0.0.1", d.port()};
    ControllerOptions anonymous = to(kDefault);
    anonymous.empty_hostnqn = true;

    SUBCASE("an open subsystem serves it, I/O queues included, with a warning") {
        Controller c = Controller::connect(ep, anonymous);
        verified_io(c, 1);
        CHECK(d.log().find("empty host NQN") != std::string::npos);
    }
    SUBCASE("discovery serves it and lists only the open subsystems") {
        ControllerOptions disc = anonymous;
        disc.subnqn = "";
        Controller c = Controller::connect(ep, disc);
        std::vector<std::byte> log(4096);
        REQUIRE(c.get_log_page(uint8_t(proto::LogPageId::Discovery), log) == status::kSuccess);
        proto::DiscoveryLogHeader hdr;
        std::memcpy(&hdr, log.data(), sizeof hdr);
        CHECK(hdr.record_count == 2);  // the default subsystem and the discovery subsystem itself
    }
    SUBCASE("an allow-list refuses it with Invalid Host, and the admin is told why") {
        RawConnection r = RawConnection::open(ep);
        proto::Cqe c = raw_connect(r, {.subnqn = kRestricted, .hostnqn = ""});
        CHECK(status_of(c) == status::kConnectInvalidHost);
        CHECK(c.dw0 == proto::connect_invalid_data_field(offsetof(proto::ConnectData, hostnqn)));
        CHECK(log_line_with(d, "notice", "empty host NQN is allowed only") != "");
    }
}

TEST_CASE("every refused Connect is a notice naming the host, its address, the subsystem, the status and the field") {
    NvmfdProcess d(daemon_options());
    Endpoint ep{"127.0.0.1", d.port()};
    const std::string stranger = "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-0000000bad00";
    struct Case {
        RawConnect connect;
        proto::Status status;
        std::string needle;  // what the notice says, besides host and subsystem
    };
    std::vector<Case> cases = {
        {{.subnqn = "nqn.2026-11.io.nvmfd:nosuch", .hostnqn = stranger}, status::kConnectInvalidParameters,
         "no such subsystem (connect: invalid parameters, field SUBNQN)"},
        {{.subnqn = kRestricted, .hostnqn = stranger}, status::kConnectInvalidHost,
         "not allowed on the subsystem (connect: invalid host, field HOSTNQN)"},
        {{.subnqn = kDefault, .hostnqn = stranger, .sqsize = 0}, status::kConnectInvalidParameters,
         "field SQSIZE"},
        {{.subnqn = kDefault, .hostnqn = stranger, .recfmt = 1}, status::kConnectIncompatibleFormat,
         "field RECFMT"},
        {{.subnqn = kDefault, .hostnqn = stranger, .cntlid = 5}, status::kConnectInvalidParameters,
         "field CNTLID"},
        {{.subnqn = kDefault, .hostnqn = stranger, .qid = 1, .cntlid = 0x777}, status::kConnectInvalidParameters,
         "no such controller"},
    };
    for (const Case& k : cases) {
        CAPTURE(k.needle);
        RawConnection r = RawConnection::open(ep);
        proto::Cqe c = raw_connect(r, k.connect);
        CHECK(status_of(c) == k.status);
        std::string line;
        CHECK(eventually([&] { return !(line = log_line_with(d, "notice", k.needle)).empty(); }));
        CHECK(line.find("connect refused") != std::string::npos);
        CHECK(line.find(stranger) != std::string::npos);
        CHECK(line.find("127.0.0.1:") != std::string::npos);
        CHECK(line.find(k.connect.subnqn) != std::string::npos);
    }
}

TEST_CASE("host NQNs that could forge log lines or break D-Bus are refused, and logged escaped") {
    NvmfdProcess d(daemon_options());
    Endpoint ep{"127.0.0.1", d.port()};
    SUBCASE("a newline and a journald priority prefix") {
        RawConnection r = RawConnection::open(ep);
        proto::Cqe c = raw_connect(r, {.subnqn = kDefault, .hostnqn = "nqn.2026-11.io.evil:x\n<3>forged error line"});
        CHECK(status_of(c) == status::kConnectInvalidParameters);
        CHECK(c.dw0 == proto::connect_invalid_data_field(offsetof(proto::ConnectData, hostnqn)));
        CHECK(eventually([&] { return !log_line_with(d, "notice", "x\\n<3>forged error line").empty(); }));
        for (const auto& line : log_lines(d)) {
            CAPTURE(line);
            CHECK_FALSE(line.starts_with("<3>"));
            bool forged_alone = line.find("forged") != std::string::npos && line.find("connect refused") == std::string::npos;
            CHECK_FALSE(forged_alone);
        }
    }
    SUBCASE("bytes that are not UTF-8") {
        RawConnection r = RawConnection::open(ep);
        proto::Cqe c = raw_connect(r, {.subnqn = kDefault, .hostnqn = "nqn.2026-11.io.evil:\xff\xfe\x9b[2J"});
        CHECK(status_of(c) == status::kConnectInvalidParameters);
        CHECK(eventually([&] { return !log_line_with(d, "notice", "evil:\\xff\\xfe\\x9b[2J").empty(); }));
    }
    SUBCASE("a field with no terminating NUL is too long") {
        RawConnection r = RawConnection::open(ep);
        proto::Cqe c = raw_connect(r, {.subnqn = kDefault, .hostnqn = "nqn.2026-11.io.long:" + std::string(300, 'a')});
        CHECK(status_of(c) == status::kConnectInvalidParameters);
        CHECK(eventually([&] { return !log_line_with(d, "notice", "at most 223 are allowed").empty(); }));
    }
    SUBCASE("printable UTF-8 that does not follow the naming rules still gets in, as with nvmet and SPDK") {
        Controller c = Controller::connect(ep, to(kDefault, "nqn.2026-11.io.example:h\xc3\xb4te 1"));
        CHECK(c.cntlid() != 0);
    }
}

TEST_CASE("an I/O queue reaches its controller only through a port that exports the subsystem") {
    NvmfdProcess d(daemon_options());
    Controller good = Controller::connect({"127.0.0.1", d.port()}, to(kDefault, kAllowed));
    good.request_io_queues(2);
    SUBCASE("through port 2, which does not export it: refused, naming SUBNQN") {
        RawConnection r = RawConnection::open({"127.0.0.1", d.second_port()});
        proto::Cqe c = raw_connect(r, {.subnqn = kDefault, .hostnqn = kAllowed, .qid = 1, .cntlid = good.cntlid()});
        CHECK(status_of(c) == status::kConnectInvalidParameters);
        CHECK(c.dw0 == proto::connect_invalid_data_field(offsetof(proto::ConnectData, subnqn)));
        CHECK(eventually([&] { return !log_line_with(d, "notice", "not exported through this port").empty(); }));
    }
    SUBCASE("through port 1, which does: accepted") {
        RawConnection r = RawConnection::open({"127.0.0.1", d.port()});
        proto::Cqe c = raw_connect(r, {.subnqn = kDefault, .hostnqn = kAllowed, .qid = 1, .cntlid = good.cntlid()});
        CHECK(status_of(c) == status::kSuccess);
    }
}

TEST_CASE("fused operations are refused with Invalid Field and write nothing") {
    NvmfdProcess d(daemon_options());
    Controller c = Controller::connect({"127.0.0.1", d.port()}, to(kDefault));
    c.request_io_queues(1);
    IoQueue io = c.connect_io_queue(1, 16);
    auto before = pattern(4096, 3);
    REQUIRE(io.write(1, 8, 8, before) == status::kSuccess);
    auto other = pattern(4096, 4);
    for (uint8_t fuse : {uint8_t(1), uint8_t(2), uint8_t(3)}) {
        CAPTURE(fuse);
        proto::Sqe w = cmd::write(1, 8, 8);
        w.flags |= fuse;
        Completion done = io.execute(w, Transfer::to_controller(other));
        CHECK(done.status == status::kInvalidField);
        proto::Sqe rd = cmd::read(1, 8, 8);
        rd.flags |= fuse;
        std::vector<std::byte> sink(4096);
        done = io.execute(rd, Transfer::from_controller(sink));
        CHECK(done.status == status::kInvalidField);
    }
    std::vector<std::byte> back(4096);
    REQUIRE(io.read(1, 8, 8, back) == status::kSuccess);
    CHECK(back == before);
}

TEST_CASE("controllers are limited per host and in total; discovery queues are bounded") {
    NvmfdProcess d(daemon_options({"--max-controllers", "3", "--max-controllers-per-host", "2"}));
    Endpoint ep{"127.0.0.1", d.port()};
    const std::string a = "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-00000000000a";
    const std::string b = "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-00000000000b";
    const std::string c = "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-00000000000c";
    std::vector<Controller> held;
    held.push_back(Controller::connect(ep, to(kDefault, a)));
    held.push_back(Controller::connect(ep, to(kDefault, a)));
    {
        RawConnection r = RawConnection::open(ep);
        CHECK(status_of(raw_connect(r, {.subnqn = kDefault, .hostnqn = a})) == status::kConnectControllerBusy);
        CHECK(eventually([&] { return !log_line_with(d, "notice", "max-controllers-per-host").empty(); }));
    }
    held.push_back(Controller::connect(ep, to(kDefault, b)));
    {
        RawConnection r = RawConnection::open(ep);
        CHECK(status_of(raw_connect(r, {.subnqn = kDefault, .hostnqn = c})) == status::kConnectControllerBusy);
        CHECK(eventually([&] { return !log_line_with(d, "notice", "(max-controllers)").empty(); }));
    }
    // A controller that goes away frees its place.
    held.front().disconnect();
    held.erase(held.begin());
    CHECK(eventually([&] {
        try {
            Controller fresh = Controller::connect(ep, to(kDefault, c));
            verified_io(fresh, 5);
            return true;
        } catch (const StatusError&) {
            return false;
        }
    }));

    // A discovery queue deeper than max-discovery-queue-size is refused at SQSIZE.
    RawConnection r = RawConnection::open(ep);
    proto::Cqe cqe = raw_connect(r, {.subnqn = proto::kDiscoveryNqn, .hostnqn = a, .sqsize = 1000});
    CHECK(status_of(cqe) == status::kConnectInvalidParameters);
    CHECK(cqe.dw0 == proto::connect_invalid_sqe_field(offsetof(proto::ConnectCommand, sqsize)));
    CHECK(eventually([&] { return !log_line_with(d, "notice", "max-discovery-queue-size").empty(); }));
}

TEST_CASE("reading far past the end of the discovery log takes no buffer pool pages for the zeroes") {
    // A 4 MiB pool: 127 reads of 1 MiB each would empty it 30 times over if
    // the zeroes past the log's end were pool pages.
    NvmfdProcess d(daemon_options({"--buffer-pool", "4M"}));
    Endpoint ep{"127.0.0.1", d.port()};
    RawConnection r = RawConnection::open(ep);
    REQUIRE(status_of(raw_connect(r, {.subnqn = proto::kDiscoveryNqn, .hostnqn = kAllowed, .sqsize = 127})) ==
            status::kSuccess);
    constexpr uint32_t kCcEnable = 1u | (6u << 16) | (4u << 20);  // EN, IOSQES 6, IOCQES 4
    r.send(pdu::capsule_bytes(cmd::property_set(proto::property::kCc, kCcEnable, cmd::PropertySize::Four), {},
                              plain_params()));
    REQUIRE(status_of(expect_response(r)) == status::kSuccess);
    // Up to its queue's depth of 1 MiB Get Log Page commands, never read.
    std::vector<std::byte> burst;
    for (uint16_t cid = 1; cid < 128; ++cid) {
        proto::Sqe sqe = via_transport(cmd::get_log_page(uint8_t(proto::LogPageId::Discovery), 1u << 20), 1u << 20);
        sqe.cid = cid;
        auto bytes = pdu::capsule_bytes(sqe, {}, plain_params());
        burst.insert(burst.end(), bytes.begin(), bytes.end());
    }
    r.send(burst);
    std::this_thread::sleep_for(300ms);
    // Another host still connects and moves data through the same pool.
    Controller other = Controller::connect(ep, to(kDefault));
    verified_io(other, 6);
    CHECK(d.running());
}

TEST_CASE("a subsystem not exported through the port may be retried (no DNR); an unknown one may not") {
    NvmfdProcess d(daemon_options());
    RawConnection r = RawConnection::open({"127.0.0.1", d.second_port()});
    proto::Cqe c = raw_connect(r, {.subnqn = kDefault, .hostnqn = kAllowed});
    CHECK(status_of(c) == status::kConnectInvalidParameters);
    CHECK_FALSE(status_of(c).dnr());  // the admin may be about to link it: the Linux host keeps reconnecting
    CHECK(c.dw0 == proto::connect_invalid_data_field(offsetof(proto::ConnectData, subnqn)));
    RawConnection r2 = RawConnection::open({"127.0.0.1", d.port()});
    c = raw_connect(r2, {.subnqn = "nqn.2026-11.io.nvmfd:nosuch", .hostnqn = kAllowed});
    CHECK(status_of(c) == status::kConnectInvalidParameters);
    CHECK(status_of(c).dnr());
}
