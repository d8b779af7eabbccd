// A policy's on_host_connect decides admin Connects to I/O subsystems: the
// Connect waits (parked in its slot) for the control thread's answer. Allowed
// hosts connect as before; a denied one gets Invalid Host at HOSTNQN with the
// policy's reason logged; a host that leaves, or a daemon that stops, while
// its Connect waits leaves nothing behind; an answer that takes too long
// lets the allow-list's decision stand. Discovery and I/O queues never wait.
#include <doctest/doctest.h>

#include <array>
#include <cstring>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "tests/integration/log_wait.hpp"
#include "tests/integration/nvmfd_process.hpp"
#include "tests/integration/policy_state.hpp"
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
namespace status = proto::status;

namespace {

const std::string kGuarded = "nqn.2026-11.io.nvmfd:guarded";
const std::string kHostPrefix = "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-";

// Decides by the host NQN, so that each case picks its behaviour by name:
// "denied" is refused, "slow" makes the answer take a while (the control
// thread is busy), "once" is refused the second time it is asked, "table"
// is refused in the table form, "broken" raises an error.
const char* kGate = R"lua(
local asked = {}
function on_host_connect(info)
  asked[info.host] = (asked[info.host] or 0) + 1
  if info.host:find("slow", 1, true) then
    for i = 1, tonumber(nvmfd.params.burn) do local s = string.rep("x", 1000000):upper() end
  end
  if info.host:find("denied", 1, true) then
    return false, "hosts named denied stay out (" .. info.subsystem .. " port " .. info.port .. ")"
  end
  if info.host:find("once", 1, true) and asked[info.host] > 1 then return false, "asked twice" end
  if info.host:find("table", 1, true) then return {allow = false, reason = "said the table"} end
  if info.host:find("broken", 1, true) then error("a bug in the gate") end
  return true
end
)lua";

std::string state_with_gate(int burn = 60) {
    return testing::state_with_policy(kGuarded, "gate", kGate, {{"burn", std::to_string(burn)}});
}

testing::DaemonOptions gated(std::vector<std::string> extra = {}) {
    testing::DaemonOptions o;
    o.state_json = state_with_gate();
    o.extra_args = std::move(extra);
    return o;
}

ControllerOptions as_host(const std::string& host, const std::string& subnqn = kGuarded) {
    ControllerOptions o;
    o.subnqn = subnqn;
    o.host.hostnqn = host;
    o.host.hostid = {0x42, 7};
    return o;
}

// An admin Connect written by hand; the response is left to the caller.
void send_connect(RawConnection& r, const std::string& subnqn, const std::string& hostnqn) {
    r.handshake({});
    std::array<uint8_t, 16> hostid{9, 9, 9};
    proto::ConnectData data = cmd::connect_data(hostid, 0xffff, subnqn, hostnqn);
    proto::Sqe sqe = in_capsule(cmd::connect({.qid = 0, .sqsize = 31}), sizeof data);
    r.send(pdu::capsule_bytes(sqe, pdu::as_bytes_of(data), TransportParams{}));
}



}  // namespace

TEST_CASE("on_host_connect: an allowed host connects and does I/O, a denied one gets Invalid Host with the reason") {
    // The policy comes from the state file, and these Connects go out as
    // soon as the port listens, which is before the daemon has loaded its
    // policies again: they must wait for them rather than slip past.
    NvmfdProcess d(gated());
    Endpoint ep{"127.0.0.1", d.port()};

    SUBCASE("allowed") {
        Controller c = Controller::connect(ep, as_host(kHostPrefix + "0000000a110e"));
        CHECK(c.cntlid() != 0);
        c.request_io_queues(1);
        IoQueue io = c.connect_io_queue(1, 16);
        std::vector<std::byte> data(4096, std::byte{0x5a}), back(4096);
        REQUIRE(io.write(1, 0, 8, data) == status::kSuccess);
        REQUIRE(io.read(1, 0, 8, back) == status::kSuccess);
        CHECK(back == data);
    }
    SUBCASE("denied: Invalid Host at HOSTNQN, and a notice with the policy's name and reason") {
        const std::string host = kHostPrefix + "denied000001";
        RawConnection r = RawConnection::open(ep);
        send_connect(r, kGuarded, host);
        proto::Cqe c = expect_response(r);
        CHECK(proto::Status::from_cqe(c.status) == status::kConnectInvalidHost);
        CHECK(c.dw0 == proto::connect_invalid_data_field(offsetof(proto::ConnectData, hostnqn)));
        std::string line;
        CHECK(eventually([&] { return !(line = log_line_with(d, "notice", "denied by policy gate")).empty(); }));
        CHECK(line.find("connect refused: host '" + host + "'") != std::string::npos);
        CHECK(line.find("hosts named denied stay out (" + kGuarded + " port 1)") != std::string::npos);
        CHECK(line.find("(connect: invalid host, field HOSTNQN)") != std::string::npos);
        CHECK(line.find("127.0.0.1:") != std::string::npos);
    }
    SUBCASE("denied in the table form") {
        try {
            Controller::connect(ep, as_host(kHostPrefix + "table0000001"));
            FAIL("the table's denial was not applied");
        } catch (const StatusError& e) {
            CHECK(e.status() == status::kConnectInvalidHost);
        }
        CHECK(eventually([&] { return !log_line_with(d, "notice", "denied by policy gate: said the table").empty(); }));
    }
    SUBCASE("a failing hook lets the allow-list's decision stand, and says so") {
        Controller c = Controller::connect(ep, as_host(kHostPrefix + "broken000001"));
        CHECK(c.cntlid() != 0);
        CHECK(!log_line_with(d, "error", "policy gate: on_host_connect failed: gate.lua:").empty());
        CHECK(!log_line_with(d, "warn", "the allow-list's decision stands").empty());
    }
}

TEST_CASE("on_host_connect is asked only for admin Connects to I/O subsystems") {
    NvmfdProcess d(gated());
    Endpoint ep{"127.0.0.1", d.port()};
    SUBCASE("discovery does not ask: even a host the gate denies discovers") {
        ControllerOptions disc = as_host(kHostPrefix + "denied000002", "");
        Controller c = Controller::connect(ep, disc);
        CHECK(c.cntlid() != 0);
    }
    SUBCASE("an I/O queue belongs to an admitted controller: not asked again") {
        // The gate refuses a "once" host the second time it is asked.
        Controller c = Controller::connect(ep, as_host(kHostPrefix + "once00000001"));
        c.request_io_queues(2);
        IoQueue q1 = c.connect_io_queue(1, 16);
        IoQueue q2 = c.connect_io_queue(2, 16);
        CHECK(log_line_with(d, "notice", "asked twice").empty());
    }
}

TEST_CASE("a host that leaves while its Connect waits for the policy leaves nothing behind") {
    // One controller per host: an ID still reserved by the abandoned
    // Connect would refuse the same host's next one.
    NvmfdProcess d(gated({"--max-controllers-per-host", "1"}));
    Endpoint ep{"127.0.0.1", d.port()};
    const std::string host = kHostPrefix + "slow00000001";
    {
        RawConnection r = RawConnection::open(ep);
        send_connect(r, kGuarded, host);
        std::this_thread::sleep_for(10ms);
    }  // closed before the gate answers
    CHECK(eventually([&] { return !log_line_with(d, "info", "left while its Connect waited for admission").empty(); }));
    std::this_thread::sleep_for(300ms);  // the late answer arrives and must find nothing
    Controller c = Controller::connect(ep, as_host(host));
    CHECK(c.cntlid() != 0);
    CHECK(d.running());
}

TEST_CASE("the daemon stops cleanly while a Connect waits for the policy") {
    NvmfdProcess d(gated());
    RawConnection r = RawConnection::open({"127.0.0.1", d.port()});
    send_connect(r, kGuarded, kHostPrefix + "slow00000002");
    std::this_thread::sleep_for(10ms);
    CHECK(d.stop() == 0);
}

TEST_CASE("no answer within admission-timeout-ms: the allow-list's decision stands, and a late denial is dropped") {
    NvmfdProcess d(gated({"--admission-timeout-ms", "20"}));
    Endpoint ep{"127.0.0.1", d.port()};
    const std::string host = kHostPrefix + "slowdenied01";  // the gate would deny it, but too late
    Controller c = Controller::connect(ep, as_host(host));
    CHECK(c.cntlid() != 0);
    CHECK(!log_line_with(d, "warn", "no decision within 20 ms").empty());
    std::this_thread::sleep_for(500ms);  // the gate's late "no" comes back and must change nothing
    proto::IdentifyController id;
    CHECK(c.identify_controller(id) == status::kSuccess);
    CHECK(log_line_with(d, "notice", "denied by policy gate").empty());
    CHECK(d.running());
}
