// nvmfd.probe against a real target on loopback: what a gateway learns of a
// peer (up, its ANA states on the probed port) and how each failure reads.
// Results come back as the callback's error message, which the engine
// reports (the simplest way out of a policy).
#include "tests/unit/lua_engine_fixture.hpp"

#include <boost/asio/ip/tcp.hpp>

using namespace nvmfd;
using namespace nvmfd::test;

namespace {

const std::string kNqn = "nqn.2026-11.io.nvmfd:probed";

// A subsystem with namespaces in ANA groups 1 and 2, exported on a TCP port
// where group 2 is inaccessible.
std::string export_subsystem(Engine& e) {
    control::SubsystemSettings open;
    open.allow_any_host = true;
    REQUIRE(e.f.control->add_subsystem(kNqn, open));
    REQUIRE(e.f.control->add_ana_group(2));
    auto ns = malloc_ns();
    ns.ana_group = 2;
    REQUIRE(e.f.control->add_namespace(kNqn, ns));
    control::PortSettings ps;
    ps.address = "127.0.0.1";
    ps.service = free_port();
    auto port = e.f.control->add_port(ps);
    REQUIRE(port);
    REQUIRE(e.f.control->link_subsystem(*port, kNqn));
    REQUIRE(e.f.control->set_ana_state(*port, 2, proto::AnaState::Inaccessible));
    return ps.service;
}

std::string probe_policy(const std::string& target) {
    return "function on_start() nvmfd.probe(" + target + R"(, function(r)
        local states = {}
        for g, s in pairs(r.ana or {}) do states[#states + 1] = g .. '=' .. s end
        table.sort(states)
        error(string.format('probe ok=%s ana=%s error=%s', tostring(r.ok), table.concat(states, ','),
                            r.error or '-'), 0)
    end) end)";
}

// The first reported message from "probe " on (the engine puts FILE:LINE before it).
std::string result(const Engine& e) {
    const std::string& m = e.errors.at(0).message;
    auto at = m.find("probe ");
    return at == std::string::npos ? m : m.substr(at);
}

}  // namespace

TEST_CASE("an ana probe reads the peer's ANA states on the probed port") {
    Engine e;
    std::string port = export_subsystem(e);
    REQUIRE(e.load(probe_policy("{address='127.0.0.1', port=" + port + ", kind='ana', subsystem='" + kNqn + "'}")));
    REQUIRE(e.run_until([&] { return !e.errors.empty(); }));
    CHECK(result(e) == "probe ok=true ana=1=optimized,2=inaccessible error=-");
    CHECK(e.errors[0].handler.find("probe of 127.0.0.1:" + port + " (ana)") == 0);
    // Its admin connection is kept for the next probe; unloading the policy ends it.
    CHECK(e.f.control->controllers().size() == 1);
    REQUIRE(e.policies->unload("p"));
    CHECK(e.run_until([&] { return e.f.control->controllers().empty(); }));
}

TEST_CASE("probes reuse one admin connection, and replace it when the peer dropped it") {
    Engine e;
    std::string port = export_subsystem(e);
    REQUIRE(e.load(R"(
        local n = 0
        local function go()
          nvmfd.probe({address='127.0.0.1', port=)" + port + R"(, kind='ana', subsystem=')" + kNqn + R"('},
            function(r)
              n = n + 1
              error(string.format('probe %d ok=%s error=%s', n, tostring(r.ok), r.error or '-'), 0)
            end)
        end
        function on_start() nvmfd.every(0.05, go) end
    )"));
    REQUIRE(e.run_until([&] { return e.errors.size() >= 5; }));
    auto controllers = e.f.control->controllers();
    REQUIRE(controllers.size() == 1);
    uint16_t first = controllers[0].identity.cntlid;
    // As if the peer restarted: its end of the kept connection goes away.
    REQUIRE(e.f.control->disconnect_controller(kNqn, first));
    size_t before = e.errors.size();
    REQUIRE(e.run_until([&] { return e.errors.size() >= before + 5; }));
    for (const auto& err : e.errors) CHECK(err.message.find("ok=true error=-") != std::string::npos);
    controllers = e.f.control->controllers();
    REQUIRE(controllers.size() == 1);
    CHECK(controllers[0].identity.cntlid != first);
}

TEST_CASE("discovery and tcp probes report a live peer") {
    Engine e;
    std::string port = export_subsystem(e);
    REQUIRE(e.load(probe_policy("{address='127.0.0.1', port='" + port + "', kind='discovery'}")));
    REQUIRE(e.run_until([&] { return !e.errors.empty(); }));
    CHECK(result(e) == "probe ok=true ana= error=-");
    e.errors.clear();
    REQUIRE(e.load(probe_policy("{address='127.0.0.1', port=" + port + ", kind='tcp'}")));
    REQUIRE(e.run_until([&] { return !e.errors.empty(); }));
    CHECK(result(e) == "probe ok=true ana= error=-");
}

TEST_CASE("a refused connection, a subsystem that refuses the probe and a silent peer each say why") {
    Engine e;
    std::string port = export_subsystem(e);
    REQUIRE(e.load(probe_policy("{address='127.0.0.1', port=" + free_port() + ", kind='ana', subsystem='" + kNqn +
                                "'}")));
    REQUIRE(e.run_until([&] { return !e.errors.empty(); }));
    CHECK(result(e) == "probe ok=false ana= error=connect: Connection refused");

    e.errors.clear();
    REQUIRE(e.load(probe_policy("{address='127.0.0.1', port=" + port +
                                ", kind='ana', subsystem='nqn.2026-11.io.nvmfd:nosuch'}")));
    REQUIRE(e.run_until([&] { return !e.errors.empty(); }));
    CHECK(result(e).starts_with("probe ok=false ana= error=Connect: status 0x"));

    // A listener that never answers the ICReq: the timeout ends the probe.
    boost::asio::io_context other;
    boost::asio::ip::tcp::acceptor silent(other, {boost::asio::ip::make_address("127.0.0.1"), 0});
    e.errors.clear();
    REQUIRE(e.load(probe_policy("{address='127.0.0.1', port=" + std::to_string(silent.local_endpoint().port()) +
                                ", kind='discovery', timeout=0.2}")));
    REQUIRE(e.run_until([&] { return !e.errors.empty(); }));
    CHECK(result(e) == "probe ok=false ana= error=timed out after 200 ms (ICReq)");
}

TEST_CASE("bad probe arguments are named; an unloaded policy's probe never calls back") {
    Engine e;
    auto check_refused = [&](const std::string& target, const std::string& field) {
        e.errors.clear();
        REQUIRE(e.load("function on_start() nvmfd.probe(" + target + ", function() end) end"));
        REQUIRE(e.errors.size() == 1);
        CHECK(e.errors[0].message.find("InvalidArgument") != std::string::npos);
        CHECK(e.errors[0].message.find("(" + field + ")") != std::string::npos);
    };
    check_refused("{port=4420}", "address");
    check_refused("{address='127.0.0.1', kind='ping'}", "kind");
    check_refused("{address='127.0.0.1', kind='ana'}", "subsystem");
    check_refused("{address='127.0.0.1', timeout=0}", "timeout");
    check_refused("{address='127.0.0.1', port=70000}", "port");
    check_refused("{address='127.0.0.1', colour='red'}", "colour");

    boost::asio::io_context other;
    boost::asio::ip::tcp::acceptor silent(other, {boost::asio::ip::make_address("127.0.0.1"), 0});
    e.errors.clear();
    REQUIRE(e.load(probe_policy("{address='127.0.0.1', port=" + std::to_string(silent.local_endpoint().port()) +
                                ", kind='discovery', timeout=0.1}")));
    REQUIRE(e.policies->unload("p"));
    e.run_for(std::chrono::milliseconds(300));
    CHECK(e.errors.empty());
}

TEST_CASE("watch_peer: on_peer_change says up when the peer answers and down after `missed` failed probes") {
    Engine e;
    std::string port = export_subsystem(e);
    REQUIRE(e.load(R"(
        function on_start()
          w = nvmfd.watch_peer({name = 'b', address = '127.0.0.1', port = )" + port +
                   R"(, kind = 'ana', subsystem = ')" + kNqn + R"(', interval = 0.05, missed = 2})
        end
        function on_peer_change(p)
          error(string.format('peer %s %s:%s %s (%s, %s)', p.name, p.address, p.port, p.state,
                              p.reason or '-', tostring(p.missed or '-')), 0)
        end
    )"));
    REQUIRE(e.run_until([&] { return !e.errors.empty(); }));
    CHECK(e.errors[0].message.ends_with("peer b 127.0.0.1:" + port + " up (-, -)"));
    CHECK(e.errors[0].handler == "on_peer_change");
    // The peer's listener goes away: down once, after two failed probes.
    e.errors.clear();
    REQUIRE(e.f.control->remove_port(1, true));
    REQUIRE(e.run_until([&] { return !e.errors.empty(); }));
    CHECK(e.errors[0].message.find("peer b 127.0.0.1:" + port + " down (") != std::string::npos);
    CHECK(e.errors[0].message.ends_with(", 2)"));
    e.run_for(std::chrono::milliseconds(300));
    CHECK(e.errors.size() == 1);  // a transition is told once
    // Back: up again.
    e.errors.clear();
    control::PortSettings ps;
    ps.address = "127.0.0.1";
    ps.service = port;
    REQUIRE(e.f.control->add_port(ps));
    REQUIRE(e.f.control->link_subsystem(1, kNqn));
    REQUIRE(e.run_until([&] { return !e.errors.empty(); }));
    CHECK(e.errors[0].message.ends_with(" up (-, -)"));
    // A cancelled watch is silent.
    REQUIRE(e.load(R"(
        function on_start() local w = nvmfd.watch_peer({address = '127.0.0.1', port = 1, kind = 'tcp',
                                                         interval = 0.05, missed = 1})
          assert(w:cancel()) end
        function on_peer_change(p) error('cancelled watch reported ' .. p.state, 0) end
    )"));
    e.errors.clear();
    e.run_for(std::chrono::milliseconds(300));
    CHECK(e.errors.empty());
}
