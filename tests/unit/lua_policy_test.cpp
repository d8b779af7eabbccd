// A policy's life against a real control plane: load (refused on a syntax
// or load-time error, nothing persisted), handlers and their errors,
// control calls and their typed errors, events, timers, unload, restore.
#include "tests/unit/lua_engine_fixture.hpp"

#include "lua/events.hpp"

using namespace nvmfd;
using namespace nvmfd::test;

namespace {

const std::string kNqn = "nqn.2026-11.io.nvmfd:lua";

}  // namespace

TEST_CASE("a syntax or load-time error is refused with its line, and nothing is persisted") {
    Engine e;
    std::string file_before = slurp(e.f.state());
    auto r = e.load("x = 1\nif then\n");
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::InvalidArgument);
    CHECK(r.error().field == "source");
    CHECK(r.error().message.starts_with("p.lua:2: "));

    r = e.load("local x = 1\n\nerror('boom')\n");
    REQUIRE_FALSE(r);
    CHECK(r.error().message == "p.lua:3: boom");

    // The main chunk may not change the target: a refused load changes nothing.
    r = e.load("nvmfd.add_subsystem('" + kNqn + "')\n");
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("p.lua:1: NotSupported: nvmfd.add_subsystem cannot change the target while the "
                                 "policy loads") != std::string::npos);

    CHECK(e.policies->list().empty());
    CHECK(e.f.control->export_spec().policies.empty());
    CHECK(e.f.control->export_spec().subsystems.empty());
    CHECK(slurp(e.f.state()) == file_before);
    CHECK(e.errors.empty());
}

TEST_CASE("a runtime error in a handler is logged and reported; the policy stays loaded") {
    Engine e;
    REQUIRE(e.load("function on_start()\n  local t = nil\n  return t.x\nend\n"));
    REQUIRE(e.errors.size() == 1);
    CHECK(e.errors[0].policy == "p");
    CHECK(e.errors[0].handler == "on_start");
    CHECK(e.errors[0].message.starts_with("p.lua:3: "));
    auto info = e.policies->show("p");
    REQUIRE(info);
    CHECK(info->calls == 1);
    CHECK(info->errors == 1);
    CHECK(info->last_error == e.errors[0].message);
    CHECK(info->handlers == std::vector<std::string>{"on_start"});
    CHECK(info->memory_bytes > 0);
    CHECK(e.policies->list().size() == 1);
    REQUIRE(e.f.control->export_spec().policies.size() == 1);
    CHECK(e.f.control->export_spec().policies[0].file == "p.lua");
}

TEST_CASE("control calls from Lua change the state; a bad call raises the typed error") {
    Engine e;
    REQUIRE(e.load(R"(
        function on_start()
            local nqn = nvmfd.params.nqn
            nvmfd.add_subsystem(nqn, {serial = 'LUA1', allow_any_host = true, max_namespaces = 8})
            local nsid = nvmfd.add_namespace(nqn, {backend = 'malloc', params = {size = '1M'}})
            assert(nsid == 1, 'nsid ' .. tostring(nsid))
            nvmfd.add_ana_group(2)
            local s = nvmfd.state()
            assert(s.subsystems[1].nqn == nqn and s.subsystems[1].serial == 'LUA1')
            assert(s.subsystems[1].namespaces[1].params.size ~= nil)
            assert(#nvmfd.controllers() == 0)

            local ok, err = pcall(nvmfd.add_namespace, nqn, {backend = 'nosuch'})
            assert(not ok and err.name == 'NotFound' and err.field == 'backend', tostring(err))
            assert(tostring(err):match('^NotFound: .* %(backend%)$'), tostring(err))
            assert(getmetatable(err) == 'nvmfd.error')  -- locked: no __gc can be added to it
            assert(not pcall(setmetatable, err, {}))
            ok, err = pcall(nvmfd.add_subsystem, 'nqn.2026-11.io.nvmfd:x', {serail = 'typo'})
            assert(not ok and err.name == 'InvalidArgument' and err.field == 'serail', tostring(err))
            ok, err = pcall(nvmfd.set_ana_state, 1, 2, 'sleepy')
            assert(not ok and err.name == 'InvalidArgument' and err.field == 'state', tostring(err))
            ok, err = pcall(nvmfd.set_ana_state, 9, 2, 'inaccessible')
            assert(not ok and err.name == 'NotFound' and err.field == 'port', tostring(err))
            ok, err = pcall(nvmfd.add_subsystem, nqn)
            assert(not ok and err.name == 'AlreadyExists' and err.field == 'nqn', tostring(err))

            nvmfd.remove_subsystem('nqn.2026-11.io.nvmfd:nosuch')  -- uncaught: reported
        end
    )", {{"nqn", kNqn}}));
    REQUIRE(e.errors.size() == 1);
    CAPTURE(e.errors[0].message);
    CHECK(e.errors[0].message.find("p.lua:27: NotFound: no subsystem 'nqn.2026-11.io.nvmfd:nosuch' (nqn)") !=
          std::string::npos);
    auto spec = e.f.control->export_spec();
    REQUIRE(spec.subsystems.size() == 1);
    CHECK(spec.subsystems[0].nqn == kNqn);
    CHECK(spec.subsystems[0].serial == "LUA1");
    REQUIRE(spec.subsystems[0].namespaces.size() == 1);
    CHECK(spec.ana_groups == std::vector<uint32_t>{1, 2});
}

TEST_CASE("control events reach the handlers, after the call that caused them") {
    Engine e;
    // Each handler reports what it saw as an error, which the test reads.
    REQUIRE(e.load(R"(
        function on_subsystem_change(i) error('subsystem ' .. i.change .. ' ' .. i.subsystem, 0) end
        function on_namespace_change(i) error('namespace ' .. i.change .. ' ' .. i.nsid, 0) end
        function on_ana_change(i) error('ana ' .. i.port .. ' ' .. i.group .. ' ' .. i.state, 0) end
        function on_port_change(i) error('port ' .. i.change .. ' ' .. i.port, 0) end
    )"));
    auto info = e.policies->show("p");
    CHECK(info->handlers.size() == 4);
    REQUIRE(e.f.control->add_subsystem(kNqn, {}));
    REQUIRE(e.f.control->add_namespace(kNqn, malloc_ns()));
    control::PortSettings ps;
    ps.address = "127.0.0.1";
    ps.service = free_port();
    auto port = e.f.control->add_port(ps);
    REQUIRE(port);
    REQUIRE(e.f.control->set_ana_state(*port, 1, proto::AnaState::Inaccessible));
    CHECK(e.errors.empty());  // not yet: handlers run from the loop
    CHECK(e.run_until([&] { return e.errors.size() >= 4; }));
    CHECK(e.reported("subsystem added " + kNqn));
    CHECK(e.reported("namespace added 1"));
    CHECK(e.reported(fmt::format("port added {}", *port)));
    CHECK(e.reported(fmt::format("ana {} 1 inaccessible", *port)));
}

TEST_CASE("timers fire, can be cancelled, and refuse too short periods") {
    Engine e;
    REQUIRE(e.load(R"(
        local n = 0
        function on_start()
            ticker = nvmfd.every(0.01, function()
                n = n + 1
                if n == 3 then ticker:cancel() error('third tick', 0) end
            end)
            nvmfd.after(0.02, function() error('after fired', 0) end)
            local never = nvmfd.every(0.01, function() error('cancelled timer fired', 0) end)
            assert(never:cancel() == true and never:cancel() == false)
            local ok, err = pcall(nvmfd.every, 0.001, function() end)
            assert(not ok and err.name == 'InvalidArgument' and err.field == 'seconds', tostring(err))
        end
    )"));
    CHECK(e.errors.empty());
    CHECK(e.run_until([&] { return e.reported("third tick") && e.reported("after fired"); }));
    e.run_for(std::chrono::milliseconds(100));
    CHECK(e.errors.size() == 2);  // the ticker stopped at its third tick; the cancelled one never ran
    CHECK_FALSE(e.reported("cancelled timer fired"));
    CHECK(e.policies->show("p")->calls == 1 + 3 + 1);
}

TEST_CASE("unloading or replacing a policy stops its timers") {
    Engine e;
    std::string ticking = "function on_start() nvmfd.every(0.01, function() error('tick ' .. nvmfd.params.v, 0) end) end";
    REQUIRE(e.load(ticking, {{"v", "1"}}));
    CHECK(e.run_until([&] { return e.reported("tick 1"); }));
    REQUIRE(e.load(ticking, {{"v", "2"}}));  // replaces by name
    e.errors.clear();
    CHECK(e.run_until([&] { return e.reported("tick 2"); }));
    e.errors.clear();
    e.run_for(std::chrono::milliseconds(50));
    CHECK_FALSE(e.reported("tick 1"));
    REQUIRE(e.policies->unload("p"));
    e.errors.clear();
    e.run_for(std::chrono::milliseconds(100));
    CHECK(e.errors.empty());
    CHECK(e.policies->list().empty());
    CHECK(e.f.control->export_spec().policies.empty());
    auto r = e.policies->unload("p");
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::NotFound);
    CHECK(r.error().field == "name");
    CHECK(e.policies->show("p").error().code == ErrorCode::NotFound);
}

TEST_CASE("restore reloads persisted policies after a restart; a broken one does not stop the others") {
    Engine e;
    REQUIRE(e.load("function on_start() error('started by ' .. nvmfd.params.who, 0) end", {{"who", "restore"}}));
    REQUIRE(e.policies->load("q", "x = 1", "q.lua", {}));
    // A persisted policy that no longer loads (say, written by hand).
    REQUIRE(e.f.control->put_policy({"broken", "if then", "broken.lua", {}}));
    e.errors.clear();

    // "Restart": a new control plane on the same state file, a new engine.
    e.policies.reset();
    e.f.open();
    REQUIRE(*e.f.control->load_state());
    e.start();
    e.policies->restore();
    CHECK(e.reported("started by restore"));
    REQUIRE(e.errors.size() == 2);
    CHECK(e.errors[0].policy == "broken");
    CHECK(e.errors[0].handler == "load");
    CHECK(e.errors[0].message.starts_with("broken.lua:1: "));
    auto list = e.policies->list();
    REQUIRE(list.size() == 3);
    CHECK(list[0].name == "broken");  // listed with its error
    CHECK(list[0].errors == 1);
    CHECK(list[0].last_error == e.errors[0].message);
    CHECK(list[0].handlers.empty());
    CHECK(list[1].name == "p");
    CHECK(list[1].params.at("who") == "restore");
    CHECK(list[1].handlers == std::vector<std::string>{"on_start"});
    CHECK(list[2].name == "q");
    // It can be unloaded like any other.
    REQUIRE(e.policies->unload("broken"));
    CHECK(e.policies->list().size() == 2);
    CHECK(e.f.control->export_spec().policies.size() == 2);
}

TEST_CASE("a runaway handler is stopped and the policy keeps serving") {
    Engine e;
    REQUIRE(e.load("function on_start() while true do end end\n"
                   "function on_subsystem_change(i) error('still here', 0) end"));
    REQUIRE(e.errors.size() == 1);
    CHECK(e.errors[0].message.find("instruction limit exceeded") != std::string::npos);
    REQUIRE(e.f.control->add_subsystem(kNqn, {}));
    CHECK(e.run_until([&] { return e.reported("still here"); }));
}

TEST_CASE("the documented example policy loads and fails over on the last disconnect") {
    Engine e;
    control::PortSettings ps;
    ps.address = "127.0.0.1";
    ps.service = free_port();
    REQUIRE(*e.f.control->add_port(ps) == 1);
    std::string source = slurp(NVMFD_EXAMPLE_POLICY);
    REQUIRE_FALSE(source.empty());
    auto p = lua::Policy::load({"failover", source, NVMFD_EXAMPLE_POLICY, {{"port", "1"}, {"group", "1"}}},
                               lua::PolicyEnvironment{e.io, *e.f.control, {}, [&](const lua::PolicyError& err) {
                                                          e.errors.push_back(err);
                                                      }});
    REQUIRE(p);
    CHECK((*p)->info().handlers == std::vector<std::string>{"on_start", "on_controller_disconnect"});
    (*p)->start();
    control::Event left{control::EventKind::ControllerDisconnected, kNqn, 0, 1, 0, 7,
                        "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-000000000001"};
    (*p)->call("on_controller_disconnect", [&](lua_State* L) { lua::push_event_info(L, left); });
    CHECK(e.errors.empty());
    CHECK((*p)->info().calls == 2);
    CHECK(e.f.control->export_spec().ports[0].ana_states.at(1) == proto::AnaState::NonOptimized);
}

TEST_CASE("the error callback can be attached after the manager started") {
    Fixture f;
    boost::asio::io_context io;
    lua::PolicyManager policies(io, *f.control);
    REQUIRE(policies.load("late", "function on_subsystem_change(i) error('seen ' .. i.subsystem, 0) end", "late.lua", {}));
    std::vector<lua::PolicyError> seen;
    policies.set_error_callback([&](const lua::PolicyError& e) { seen.push_back(e); });
    REQUIRE(f.control->add_subsystem(kNqn, {}));
    io.run_for(std::chrono::milliseconds(200));
    REQUIRE(seen.size() == 1);
    CHECK(seen[0].policy == "late");
    CHECK(seen[0].handler == "on_subsystem_change");
    CHECK(seen[0].message == "late.lua:1: seen " + kNqn);
}

TEST_CASE("kernel-served subsystems from Lua: data_path and passthru_device options, bad values named, drift lines") {
    Engine e;
    REQUIRE(e.load(R"(
        function on_start()
            local ok, err = pcall(nvmfd.add_subsystem, 'nqn.2026-11.io.nvmfd:bad', {data_path = 'foo'})
            assert(not ok and err.name == 'InvalidArgument' and err.field == 'data_path', tostring(err))
            assert(tostring(err):find("'foo' is not nvmfd or kernel", 1, true), tostring(err))
            ok, err = pcall(nvmfd.add_subsystem, 'nqn.2026-11.io.nvmfd:bad', {data_path = 1})
            assert(not ok and err.name == 'InvalidArgument' and err.field == 'data_path', tostring(err))
            ok, err = pcall(nvmfd.add_subsystem, 'nqn.2026-11.io.nvmfd:bad', {passthru_device = true})
            assert(not ok and err.name == 'InvalidArgument' and err.field == 'passthru_device', tostring(err))
            local drift = nvmfd.kernel_drift()
            assert(type(drift) == 'table' and #drift == 0, 'drift ' .. tostring(#drift))
            nvmfd.add_subsystem(nvmfd.params.nqn, {})
        end
    )", {{"nqn", kNqn}}));
    CHECK(e.errors.empty());
    auto spec = e.f.control->export_spec();
    REQUIRE(spec.subsystems.size() == 1);  // the bad calls added nothing
    CHECK(spec.subsystems[0].nqn == kNqn);
}

// The fixture has no kernel target (its configfs root does not exist): the
// option reaches the control, which refuses with the reason, naming data_path.
// That a kernel subsystem is made is tested on the fake tree
// (tests/nvmet_configfs) and in the guest.
TEST_CASE("a kernel subsystem added from Lua reaches the control, which names what is missing") {
    Engine e;
    REQUIRE(e.load(R"(
        function on_start()
            local ok, err = pcall(nvmfd.add_subsystem, nvmfd.params.nqn, {data_path = 'kernel'})
            assert(not ok and err.name == 'NotSupported' and err.field == 'data_path', tostring(err))
            assert(tostring(err):find("not available", 1, true), tostring(err))
        end
    )", {{"nqn", kNqn}}));
    CHECK(e.errors.empty());
    CHECK(e.f.control->export_spec().subsystems.empty());
}

TEST_CASE("a device's health change reaches on_namespace_change with its critical warning") {
    Engine e;
    const std::string source = R"(
        function on_namespace_change(i)
            error('namespace ' .. i.nsid .. ' ' .. i.change .. ' ' .. tostring(i.critical_warning), 0)
        end
    )";
    auto p = lua::Policy::load({"health", source, "health.lua", {}},
                               lua::PolicyEnvironment{e.io, *e.f.control, {}, [&](const lua::PolicyError& err) {
                                                          e.errors.push_back(err);
                                                      }});
    REQUIRE(p);
    control::Event health{control::EventKind::NamespaceChanged, kNqn, 3, 0, 0, 0, "health"};
    health.critical_warning = 0x06;
    (*p)->call("on_namespace_change", [&](lua_State* L) { lua::push_event_info(L, health); });
    control::Event resized{control::EventKind::NamespaceChanged, kNqn, 3, 0, 0, 0, "resized"};
    (*p)->call("on_namespace_change", [&](lua_State* L) { lua::push_event_info(L, resized); });
    CHECK(e.reported("namespace 3 health 6"));
    CHECK(e.reported("namespace 3 resized nil"));  // only a health change carries the bits
}
