// Provisioning templates and dry runs against a real control plane: a
// template's result, its typed errors, the undo of a template that failed
// halfway, and a dry run's report that leaves the daemon untouched.
#include "tests/unit/lua_engine_fixture.hpp"

#include <nlohmann/json.hpp>

using namespace nvmfd;
using namespace nvmfd::test;

namespace {

const std::string kTemplates = R"(
templates = {}
function templates.disk(args)
  if not args.size then nvmfd.error("InvalidArgument", "give a size", "size") end
  local nqn = "nqn.2026-11.io.nvmfd:" .. args.name
  nvmfd.add_subsystem(nqn, {allow_any_host = false})
  nvmfd.allow_host(nqn, args.host)        -- a bad NQN fails here, after the subsystem
  nvmfd.set_ana_state(1, 1, "non-optimized")
  if args.crash then local t = nil; return t.x end
  local nsid = nvmfd.add_namespace(nqn, {backend = "malloc", params = {size = args.size}, visible_to = {args.host}})
  return {subsystem = nqn, nsid = nsid, hosts = {args.host}}
end
)";
const std::string kHost = "nqn.2014-08.org.nvmexpress:uuid:11111111-2222-4333-8444-555555555555";

// The shared engine, with a port for templates to link subsystems to.
struct ProvisionEngine : test::Engine {
    ProvisionEngine() {
        control::PortSettings port;
        port.address = "127.0.0.1";
        port.service = free_port();
        REQUIRE(f.control->add_port(port));
    }
};

}  // namespace

TEST_CASE("a template makes what it says and answers it; its typed errors name the field") {
    ProvisionEngine e;
    REQUIRE(e.policies->load("t", kTemplates, "t.lua", {}));
    auto made = e.policies->provision("disk", {{"name", "a"}, {"size", "1M"}, {"host", kHost}});
    REQUIRE(made);
    CHECK(*made == std::map<std::string, std::string>{
                       {"subsystem", "nqn.2026-11.io.nvmfd:a"}, {"nsid", "1"}, {"hosts", kHost}});
    auto spec = e.f.control->export_spec();
    REQUIRE(spec.subsystems.size() == 1);
    CHECK(spec.subsystems[0].namespaces.at(0).visible_to == std::vector<std::string>{kHost});

    auto no_size = e.policies->provision("disk", {{"name", "b"}});
    REQUIRE(!no_size);
    CHECK(no_size.error().code == ErrorCode::InvalidArgument);
    CHECK(no_size.error().field == "size");
    CHECK(e.errors.empty());  // the caller's mistake, not the policy's

    auto unknown = e.policies->provision("volume", {});
    REQUIRE(!unknown);
    CHECK(unknown.error().code == ErrorCode::NotFound);
    CHECK(unknown.error().message.find("disk (t)") != std::string::npos);
    REQUIRE(e.policies->load("t2", kTemplates, "t2.lua", {}));
    auto twice = e.policies->provision("disk", {{"name", "c"}, {"size", "1M"}, {"host", kHost}});
    REQUIRE(!twice);
    CHECK(twice.error().code == ErrorCode::AlreadyExists);
    CHECK(twice.error().message.find("t, t2") != std::string::npos);
}

TEST_CASE("a template that fails halfway has its changes undone") {
    ProvisionEngine e;
    REQUIRE(e.policies->load("t", kTemplates, "t.lua", {}));
    const std::string before = e.f.spec_json();

    auto bad_host = e.policies->provision("disk", {{"name", "a"}, {"size", "1M"}, {"host", "not an nqn"}});
    REQUIRE(!bad_host);
    CHECK(bad_host.error().field == "host");
    CHECK(bad_host.error().message.find("undone: removed subsystem nqn.2026-11.io.nvmfd:a") != std::string::npos);
    CHECK(e.f.spec_json() == before);

    auto crash = e.policies->provision("disk", {{"name", "a"}, {"size", "1M"}, {"host", kHost}, {"crash", "1"}});
    REQUIRE(!crash);
    CAPTURE(crash.error().message);
    CHECK(crash.error().code == ErrorCode::Internal);
    CHECK(crash.error().message.find("t.lua:9:") != std::string::npos);
    CHECK(crash.error().message.find("set ANA group 1 on port 1 back to optimized") != std::string::npos);
    CHECK(e.f.spec_json() == before);
    REQUIRE(e.errors.size() == 1);  // a runtime error is the policy's: reported
    CHECK(e.errors[0].handler == "templates.disk");
}

TEST_CASE("a dry run reports the calls, lists timers without running them, and changes nothing") {
    ProvisionEngine e;
    const std::string state_before = slurp(e.f.state());
    control::PolicyTest t;
    t.source = kTemplates + R"(
function on_start() nvmfd.every(5, function() error("must not run") end) end
)";
    t.file = "dry.lua";
    t.event = "templates.disk";
    t.args_json = nlohmann::json{{"name", "d"}, {"size", "1M"}, {"host", kHost}}.dump();
    auto text = e.policies->test(t);
    REQUIRE(text);
    auto report = nlohmann::json::parse(*text);
    CAPTURE(report.dump(2));
    std::vector<std::string> calls;
    for (const auto& c : report["calls"]) calls.push_back(c["call"]);
    CHECK(calls == std::vector<std::string>{"every", "add_subsystem", "allow_host", "set_ana_state", "add_namespace"});
    CHECK(report["calls"][4]["result"] == 1);
    CHECK(report["timers"].size() == 1);
    CHECK(report["result"]["subsystem"] == "nqn.2026-11.io.nvmfd:d");
    CHECK(report["failures"].empty());
    e.io.run_for(std::chrono::milliseconds(50));
    CHECK(e.f.control->export_spec().subsystems.empty());
    CHECK(e.f.control->export_spec().ports.at(0).ana_states.empty());
    CHECK(slurp(e.f.state()) == state_before);
    CHECK(e.policies->list().empty());

    t.args_json = nlohmann::json{{"name", "d"}, {"size", "1M"}, {"host", "bad"}}.dump();
    report = nlohmann::json::parse(*e.policies->test(t));
    CHECK(report["error"]["field"] == "host");
    CHECK(report["calls"][2]["error"]["name"] == "InvalidArgument");

    t.event = "on_sunday";
    auto bad_event = e.policies->test(t);
    REQUIRE(!bad_event);
    CHECK(bad_event.error().field == "event");
}
