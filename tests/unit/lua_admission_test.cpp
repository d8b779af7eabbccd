// on_host_connect through the policy engine: what its results mean, which
// policy's denial wins, what a failing hook does, when the core's hook is
// installed, and the example admission policy's rules.
#include "tests/unit/lua_engine_fixture.hpp"

using namespace nvmfd;
using namespace nvmfd::test;

namespace {

const std::string kSub = "nqn.2026-11.io.nvmfd:lua";
const std::string kHost = "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-000000000001";

// The shared engine, with policies loaded by name and the admission question.
struct AdmissionEngine : test::Engine {
    Result<void> load(const std::string& name, const std::string& source,
                      std::map<std::string, std::string> params = {}) {
        return policies->load(name, source, name + ".lua", params);
    }
    control::AdmissionVerdict ask(const std::string& host = kHost, const std::string& sub = kSub) {
        return policies->decide({host, "00000000-0000-4000-8000-0000000000aa", sub, 1, "127.0.0.1:40000"});
    }
};

}  // namespace

TEST_CASE("on_host_connect's results: nothing or true allows; false and a reason, or a table, denies") {
    AdmissionEngine e;
    struct Case {
        std::string body;
        bool allow;
        std::string reason;
    };
    std::vector<Case> cases = {
        {"", true, ""},
        {"return true", true, ""},
        {"return nil", true, ""},
        {"return false, 'not today'", false, "not today"},
        {"return false", false, "no reason given"},
        {"return false, ''", false, "no reason given"},
        {"return {allow = false, reason = 'by table'}", false, "by table"},
        {"return {allow = true, reason = 'ignored'}", true, ""},
        {"return false, 'line\\nbreak'", false, "line\\nbreak"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.body);
        REQUIRE(e.load("p", "function on_host_connect(info) " + c.body + " end"));
        auto v = e.ask();
        CHECK(v.allow == c.allow);
        CHECK(v.reason == c.reason);
        if (!c.allow) CHECK(v.policy == "p");
    }
    CHECK(e.errors.empty());
}

TEST_CASE("on_host_connect sees the host, its ID, the subsystem, the port and the address") {
    AdmissionEngine e;
    REQUIRE(e.load("p", "function on_host_connect(i)\n"
                        "  return false, table.concat({i.host, i.hostid, i.subsystem, tostring(i.port), i.address}, '|')\n"
                        "end"));
    auto v = e.ask();
    CHECK(v.reason == kHost + "|00000000-0000-4000-8000-0000000000aa|" + kSub + "|1|127.0.0.1:40000");
}

TEST_CASE("a failing or misbehaving hook is reported and lets the allow-list's decision stand") {
    AdmissionEngine e;
    std::string needle;
    SUBCASE("a runtime error") {
        REQUIRE(e.load("p", "function on_host_connect(i) error('gate bug') end"));
        needle = "p.lua:1: gate bug";
    }
    SUBCASE("a result of the wrong shape") {
        REQUIRE(e.load("p", "function on_host_connect(i) return 'no' end"));
        needle = "on_host_connect must return true, false and a reason, or {allow = ..., reason = ...}; it returned a string";
    }
    SUBCASE("a table without a boolean allow") {
        REQUIRE(e.load("p", "function on_host_connect(i) return {reason = 'x'} end"));
        needle = "the returned table needs a boolean 'allow' (it has a nil)";
    }
    SUBCASE("a reason that is not a string") {
        REQUIRE(e.load("p", "function on_host_connect(i) return false, {} end"));
        needle = "the reason must be a string, not a table";
    }
    SUBCASE("a runaway hook") {
        REQUIRE(e.load("p", "function on_host_connect(i) while true do end end"));
        needle = "instruction limit exceeded";
    }
    auto v = e.ask();
    CHECK(v.allow);
    REQUIRE(e.errors.size() == 1);
    CHECK(e.errors[0].handler == "on_host_connect");
    CHECK(e.errors[0].message.find(needle) != std::string::npos);
    auto info = e.policies->show("p");
    REQUIRE(info);
    CHECK(info->errors == 1);
}

TEST_CASE("every policy that defines on_host_connect is asked; the first denial by name wins") {
    AdmissionEngine e;
    REQUIRE(e.load("a-allows", "n = 0\nfunction on_host_connect(i) n = n + 1; return true end\n"
                               "function on_subsystem_change(i) error('asked ' .. n, 0) end"));
    REQUIRE(e.load("b-denies", "function on_host_connect(i) return false, 'b says no' end"));
    REQUIRE(e.load("c-denies", "n = 0\nfunction on_host_connect(i) n = n + 1; return false, 'c says no' end\n"
                               "function on_subsystem_change(i) error('asked ' .. n, 0) end"));
    REQUIRE(e.load("d-silent", "function on_start() end"));
    auto v = e.ask();
    CHECK_FALSE(v.allow);
    CHECK(v.policy == "b-denies");
    CHECK(v.reason == "b says no");
    // Both others were asked once.
    REQUIRE(e.f.control->add_subsystem(kSub, {}));
    e.io.run_for(std::chrono::milliseconds(100));
    REQUIRE(e.errors.size() == 2);
    CHECK(e.errors[0].message == "a-allows.lua:3: asked 1");
    CHECK(e.errors[1].message == "c-denies.lua:3: asked 1");
}

TEST_CASE("the core's admission hook exists only while a policy defines on_host_connect") {
    AdmissionEngine e;
    CHECK(e.f.target.admission_hook() == nullptr);
    REQUIRE(e.load("other", "function on_start() end"));
    CHECK(e.f.target.admission_hook() == nullptr);
    REQUIRE(e.load("gate", "function on_host_connect(i) return true end"));
    CHECK(e.f.target.admission_hook() != nullptr);
    REQUIRE(e.load("gate", "function on_start() end"));  // replaced by one without the hook
    CHECK(e.f.target.admission_hook() == nullptr);
    REQUIRE(e.load("gate", "function on_host_connect(i) return true end"));
    REQUIRE(e.policies->unload("gate"));
    CHECK(e.f.target.admission_hook() == nullptr);
}

TEST_CASE("the example admission policy: deny list, allowed prefixes, subsystems in scope, bad parameters") {
    AdmissionEngine e;
    std::string source = slurp(NVMFD_ADMISSION_POLICY);
    REQUIRE_FALSE(source.empty());
    REQUIRE(e.load("admission", source,
                   {{"allow_prefix", "nqn.2014-08.org.nvmexpress:uuid:, nqn.2026-11.com.example:"},
                    {"deny", "nqn.2026-11.com.example:retired,nqn.2026-11.com.example:stolen"},
                    {"subsystems", kSub}}));
    CHECK(e.ask().allow);
    CHECK(e.ask("nqn.2026-11.com.example:db7").allow);
    auto v = e.ask("nqn.2026-11.com.example:stolen");
    CHECK_FALSE(v.allow);
    CHECK(v.reason == "the host is on the deny list");
    v = e.ask("nqn.2026-11.org.elsewhere:h1");
    CHECK_FALSE(v.allow);
    CHECK(v.reason == "the host NQN matches no allowed prefix");
    CHECK(e.ask("nqn.2026-11.org.elsewhere:h1", "nqn.2026-11.io.nvmfd:other").allow);  // not in scope
    CHECK(e.errors.empty());

    auto bad = e.load("admission2", source, {{"max_host", "3"}});
    REQUIRE_FALSE(bad);
    CHECK(bad.error().message.find("unknown parameter 'max_host'") != std::string::npos);
    bad = e.load("admission2", source, {{"max_hosts", "0"}});
    REQUIRE_FALSE(bad);
    CHECK(bad.error().message.find("max_hosts must be a positive integer") != std::string::npos);
}

TEST_CASE("the example admission policy's max_hosts counts hosts admitted but not yet listed") {
    AdmissionEngine e;
    REQUIRE(e.load("admission", slurp(NVMFD_ADMISSION_POLICY), {{"max_hosts", "2"}}));
    CHECK(e.ask("nqn.2026-11.com.example:h1").allow);
    CHECK(e.ask("nqn.2026-11.com.example:h2").allow);
    CHECK(e.ask("nqn.2026-11.com.example:h1").allow);  // already counted: may add a controller
    auto v = e.ask("nqn.2026-11.com.example:h3");
    CHECK_FALSE(v.allow);
    CHECK(v.reason == "the subsystem already serves 2 hosts (max_hosts)");
    CHECK(e.ask("nqn.2026-11.com.example:h3", "nqn.2026-11.io.nvmfd:other").allow);  // per subsystem
}
