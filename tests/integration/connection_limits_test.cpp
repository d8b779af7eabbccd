// Connection limits under hostile hosts (issue 10): 1,000 idle controllers
// held on one reactor, a connection flood, slow-loris hosts, and the
// per-address and per-host limits. In each, another host runs verified I/O
// (nvmf-perf's engine: every read checked against what was written) and
// must keep completing it during the attack; its IOPS with and without the
// attack are printed, never asserted (the machine is shared).
#include <doctest/doctest.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include "core/proto/fabrics.hpp"
#include "tests/integration/log_wait.hpp"
#include "tests/integration/nvmfd_process.hpp"
#include "tests/integration/process_stats.hpp"
#include "tools/attack/attack_target.hpp"
#include "tools/attack/connection_flood.hpp"
#include "tools/attack/idle_controllers.hpp"
#include "tools/attack/raw_admin_connect.hpp"
#include "tools/attack/slow_loris.hpp"
#include "tools/host/controller.hpp"
#include "tools/host/errors.hpp"
#include "tools/host/io_queue.hpp"
#include "tools/host/raw_connection.hpp"
#include "tools/nvmf-perf/session.hpp"

using namespace nvmfd;
using namespace std::chrono_literals;
using testing::NvmfdProcess;
using testing::count_of;
using testing::cpu_share;
using testing::rss_bytes;
namespace status = proto::status;

namespace {

using Steady = std::chrono::steady_clock;

const std::string kDefault = NvmfdProcess::default_nqn();
// The attackers connect from their own loopback addresses; the victim from 127.0.0.1.
constexpr const char* kFloodSource = "127.0.0.2";
constexpr const char* kLorisSource = "127.0.0.3";

testing::DaemonOptions daemon(std::vector<std::string> args, std::string tcp_settings = "") {
    testing::DaemonOptions o;
    o.extra_args = std::move(args);
    if (!tcp_settings.empty()) o.config_text = "[transport.tcp]\n" + tcp_settings;
    return o;
}

attack::AttackTarget target_of(const NvmfdProcess& d, const char* source) {
    return {"127.0.0.1", d.port(), source, kDefault};
}

// The other host: 4 KiB random reads and writes at QD 16 over 16 MiB, each
// read verified, for `seconds`.
perf::RunResult victim_io(const NvmfdProcess& d, double seconds) {
    perf::PerfOptions o;
    o.port = d.port();
    o.subnqn = kDefault;
    o.hostnqn = "nqn.2014-08.io.nvmfd.test:victim";
    o.workload = perf::Workload::RandReadWrite;
    o.block_size = 4096;
    o.queue_depth = 16;
    o.time_s = seconds;
    o.size = 16u << 20;
    o.verify = true;
    return perf::run_benchmark(o);
}

double iops(const perf::RunResult& r) {
    return r.measured_seconds > 0 ? double(r.stats.total().ios) / r.measured_seconds : 0;
}

// Completed verified I/O with no error, no mismatch and no broken connection.
void check_verified(const perf::RunResult& r, const char* when) {
    CAPTURE(when);
    CHECK(r.failure == "");
    CHECK(r.stats.errors == 0);
    CHECK(r.stats.mismatches == 0);
    CHECK(r.stats.verified_blocks > 0);
    CHECK(r.stats.total().ios > 0);
}

void report(const std::string& attack, const perf::RunResult& before, const perf::RunResult& during) {
    MESSAGE("victim IOPS (4 KiB randrw QD16, verified): " << static_cast<long>(iops(before)) << " without, "
                                                          << static_cast<long>(iops(during)) << " during " << attack
                                                          << " (" << static_cast<int>(100 * iops(during) / iops(before))
                                                          << "%)");
}

// A raw connection from `source` that completed ICReq (false: the target
// closed it instead).
bool icreq_answered(const NvmfdProcess& d, const char* source, std::vector<host::RawConnection>& keep) {
    try {
        host::RawConnection r(attack::connect_from(target_of(d, source), 2s));
        r.handshake({}, 2s);
        keep.push_back(std::move(r));
        return true;
    } catch (const host::Error&) {
        return false;
    }
}

}  // namespace

TEST_CASE("1,000 idle controllers on one reactor: held, cheap, and another host's verified I/O goes on") {
    // Connected controllers (ICReq, Connect, CC.EN, Identify: what an idle
    // Linux host holds), not bare sockets: they own request slots.
    constexpr unsigned kIdle = 1000;
    uint64_t files = attack::raise_open_file_limit();
    REQUIRE_MESSAGE(files >= 2 * kIdle + 200, "RLIMIT_NOFILE hard limit " << files << " is too low for this test");
    NvmfdProcess d(daemon({"--reactors", "1"}));
    auto before = victim_io(d, 2.0);
    check_verified(before, "before");
    size_t rss_before = rss_bytes(d.pid());
    attack::IdleControllers idle({{"127.0.0.1", d.port()}, kDefault, kIdle});
    std::this_thread::sleep_for(200ms);
    size_t rss_after = rss_bytes(d.pid());
    double idle_cpu = cpu_share(d.pid(), 2000ms);
    auto during = victim_io(d, 2.0);
    check_verified(during, "with 1,000 idle controllers");
    CHECK(idle.alive() == kIdle);  // every one still there and answering
    MESSAGE(kIdle << " idle controllers connected in " << idle.setup_time().count() << " s; nvmfd RSS +"
                  << (rss_after - rss_before) / 1024 << " KiB (" << double(rss_after - rss_before) / kIdle / 1024
                  << " KiB each), CPU while idle " << idle_cpu * 100 << "% of a core");
    report("1,000 idle controllers", before, during);
    CHECK(idle_cpu < 0.5);  // generous: nothing should run for idle hosts
    CHECK(d.running());
}

TEST_CASE("a connection flood from one address does not stop another host's verified I/O") {
    // 1,000 connections a second from 127.0.0.2, each reset at once, after
    // a whole ICReq, or after part of one; 200 held half open against a
    // limit of 100 pending connections per address, so the excess is
    // refused at accept all along.
    NvmfdProcess d(daemon({"--reactors", "1", "--max-pending-connections-per-address", "100"}));
    auto before = victim_io(d, 3.0);
    check_verified(before, "before");
    attack::ConnectionFlood flood({target_of(d, kFloodSource), 1000, 200});
    REQUIRE(testing::eventually([&] { return flood.stats().connections > 500; }, 20s));
    auto start = flood.stats();
    auto flood_began = Steady::now();
    auto during = victim_io(d, 3.0);
    auto end = flood.stats();
    double seconds = std::chrono::duration<double>(Steady::now() - flood_began).count();
    flood.stop();
    check_verified(during, "during the flood");
    // The flood ran the whole time, and the limit bit.
    CHECK(end.connections - start.connections > 100);
    CHECK(end.closed_by_target > 0);
    MESSAGE("flood: " << end.connections - start.connections << " connections in " << seconds << " s ("
                      << static_cast<long>((end.connections - start.connections) / seconds) << "/s), "
                      << end.closed_by_target << " held ones closed by the target, " << end.failed
                      << " reset or failed while connecting");
    report("the flood", before, during);
    // Refusals are logged at notice, at most about once a second.
    std::string log = d.log();
    size_t lines = count_of(log, "(max-pending-connections-per-address = 100)");
    MESSAGE(lines << " notice lines about refused connections");
    CHECK(lines >= 1);
    CHECK(lines < 60);
    CHECK(!testing::log_line_with(d, "notice", "the last from 127.0.0.2").empty());
    // Afterwards: the host still gets in at once.
    check_verified(victim_io(d, 0.5), "after");
}

TEST_CASE("slow-loris hosts trickling PDUs do not stop another host's verified I/O, and are closed") {
    // 200 connections from 127.0.0.3 each send a byte every 50 ms and never
    // a PDU's last one: half inside their ICReq, half (connected, each its
    // own host NQN) inside a command capsule. Short timeouts, so that the
    // target closes them during the test and the attacker comes back.
    NvmfdProcess d(daemon({"--reactors", "1"}, "connect_timeout_ms = 2000\npdu_stall_timeout_ms = 2000\n"));
    auto before = victim_io(d, 3.0);
    check_verified(before, "before");
    attack::SlowLoris loris({target_of(d, kLorisSource), 200, 50ms});
    REQUIRE(loris.wait_ready(60s));
    auto at_start = loris.stats();
    CHECK(at_start.open >= 190);
    CHECK(at_start.connected >= 90);
    auto during = victim_io(d, 3.0);
    check_verified(during, "during slow-loris");
    // The target's timeouts close them (and the attacker reopens them).
    CHECK(testing::eventually([&] { return loris.stats().reopened >= 100; }, 20s));
    auto s = loris.stats();
    loris.stop();
    MESSAGE("slow-loris: " << s.open << " open (" << s.connected << " past Connect), " << s.bytes
                           << " bytes trickled, " << s.reopened << " closed by the target and reopened, "
                           << s.failures << " failed opens");
    report("slow-loris", before, during);
    CHECK(!testing::log_line_with(d, "notice", "still incomplete").empty());
    CHECK(!testing::log_line_with(d, "notice", "no ICReq and Connect within 2000 ms").empty());
    check_verified(victim_io(d, 0.5), "after");
}

TEST_CASE("pending connections are limited per address: refused at accept, and admitted again as they go") {
    NvmfdProcess d(daemon({"--max-pending-connections-per-address", "4"}));
    // One connection that has sent nothing yet and three past ICReq: all pending.
    host::RawConnection silent(attack::connect_from(target_of(d, kFloodSource), 2s));
    std::vector<host::RawConnection> held;
    for (int i = 0; i < 3; ++i) REQUIRE(icreq_answered(d, kFloodSource, held));
    // The fifth from that address is reset at accept, and a notice says why.
    // (So fast that connect() itself may already see the reset.)
    try {
        host::RawConnection fifth(attack::connect_from(target_of(d, kFloodSource), 2s));
        CHECK(fifth.wait_closed(5s));
    } catch (const host::ConnectionError& e) {
        CHECK(std::string(e.what()).find("reset") != std::string::npos);
    }
    CHECK(testing::eventually([&] {
        return !testing::log_line_with(d, "notice", "the last from 127.0.0.2: that address has 4 connections").empty();
    }));
    // Another address is not affected: a host connects and does verified I/O.
    check_verified(victim_io(d, 0.5), "from another address");
    // A connection that completes Connect stops counting...
    auto admin = attack::raw_admin_connect(silent, kDefault, "nqn.2014-08.io.nvmfd.test:pending");
    CHECK(admin.status == status::kSuccess);
    CHECK(testing::eventually([&] { return icreq_answered(d, kFloodSource, held); }));
    // ...and so does one that goes away.
    held.erase(held.begin(), held.begin() + 2);
    CHECK(testing::eventually([&] { return icreq_answered(d, kFloodSource, held); }));
    CHECK(testing::eventually([&] { return icreq_answered(d, kFloodSource, held); }));
    std::vector<host::RawConnection> more;
    CHECK_FALSE(icreq_answered(d, kFloodSource, more));  // 4 pending again
}

TEST_CASE("controllers per host in one subsystem are limited; other hosts and subsystems are not") {
    NvmfdProcess d(daemon({"--max-controllers-per-host-per-subsystem", "2"}));
    host::Endpoint ep{"127.0.0.1", d.port()};
    auto as = [](std::string hostnqn, std::string subnqn) {
        host::ControllerOptions o;
        o.subnqn = std::move(subnqn);
        o.host.hostnqn = std::move(hostnqn);
        return o;
    };
    const std::string a = "nqn.2014-08.io.nvmfd.test:host-a", b = "nqn.2014-08.io.nvmfd.test:host-b";
    std::vector<host::Controller> held;
    held.push_back(host::Controller::connect(ep, as(a, kDefault)));
    held.push_back(host::Controller::connect(ep, as(a, kDefault)));
    {
        host::RawConnection r(attack::connect_from({"127.0.0.1", d.port(), "", kDefault}, 2s));
        auto third = attack::raw_admin_connect(r, kDefault, a);
        CHECK(third.status == status::kConnectControllerBusy);
    }
    CHECK(testing::eventually([&] {
        return !testing::log_line_with(d, "notice", "(max-controllers-per-host-per-subsystem)").empty();
    }));
    // Another host in the subsystem, and the same host in another (discovery), get in.
    held.push_back(host::Controller::connect(ep, as(b, kDefault)));
    held.push_back(host::Controller::connect(ep, as(a, "")));
    // One of A's controllers goes: A gets in again.
    held.front().disconnect();
    held.erase(held.begin());
    CHECK(testing::eventually([&] {
        try {
            held.push_back(host::Controller::connect(ep, as(a, kDefault)));
            return true;
        } catch (const host::StatusError&) {
            return false;
        }
    }));
}

TEST_CASE("I/O queues are budgeted per host: fewer granted past the budget, none left refuses the Connect") {
    NvmfdProcess d(daemon({"--max-io-queues", "4", "--max-io-queues-per-host", "6"}));
    host::Endpoint ep{"127.0.0.1", d.port()};
    auto as = [](std::string hostnqn) {
        host::ControllerOptions o;
        o.subnqn = kDefault;
        o.host.hostnqn = std::move(hostnqn);
        return o;
    };
    const std::string a = "nqn.2014-08.io.nvmfd.test:queues-a", b = "nqn.2014-08.io.nvmfd.test:queues-b";
    auto first = std::make_unique<host::Controller>(host::Controller::connect(ep, as(a)));
    CHECK(first->request_io_queues(4) == 4);
    host::Controller second = host::Controller::connect(ep, as(a));
    CHECK(second.request_io_queues(4) == 2);  // 6 - 4
    CHECK(testing::eventually([&] {
        return !testing::log_line_with(d, "notice", "2 I/O queue(s) granted of the 4 asked (max-io-queues-per-host)")
                    .empty();
    }));
    // A queue past the grant is refused with Invalid Parameters at QID.
    try {
        second.connect_io_queue(3, 16);
        FAIL("I/O queue 3 was connected past the grant of 2");
    } catch (const host::StatusError& e) {
        CHECK(e.status() == status::kConnectInvalidParameters);
        CHECK(e.dw0() == proto::connect_invalid_sqe_field(offsetof(proto::ConnectCommand, qid)));
    }
    // Nothing left: another controller of A is refused with Controller Busy.
    {
        host::RawConnection r(attack::connect_from({"127.0.0.1", d.port(), "", kDefault}, 2s));
        CHECK(attack::raw_admin_connect(r, kDefault, a).status == status::kConnectControllerBusy);
    }
    CHECK(testing::eventually([&] {
        return !testing::log_line_with(d, "notice", "6 I/O queues granted (max-io-queues-per-host)").empty();
    }));
    // Another host has a budget of its own.
    host::Controller other = host::Controller::connect(ep, as(b));
    CHECK(other.request_io_queues(4) == 4);
    // A's first controller goes: its queues come back, and I/O flows.
    first->disconnect();
    first.reset();
    std::unique_ptr<host::Controller> third;
    CHECK(testing::eventually([&] {
        try {
            third = std::make_unique<host::Controller>(host::Controller::connect(ep, as(a)));
            return true;
        } catch (const host::StatusError&) {
            return false;
        }
    }));
    REQUIRE(third);
    CHECK(third->request_io_queues(4) == 4);
    host::IoQueue io = third->connect_io_queue(4, 16);
    std::vector<std::byte> data(4096, std::byte{0x5a}), back(4096);
    REQUIRE(io.write(1, 0, 8, data) == status::kSuccess);
    REQUIRE(io.read(1, 0, 8, back) == status::kSuccess);
    CHECK(back == data);
}
