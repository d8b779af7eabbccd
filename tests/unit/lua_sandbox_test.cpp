// The sandbox: what a policy cannot reach, and the limits that stop a
// runaway script with an error instead of a hang or an OOM.
#include <doctest/doctest.h>

#include <chrono>
#include <thread>
#include <fmt/format.h>

#include "core/runtime/log.hpp"
#include "lua/sandbox.hpp"
#include "lua/sandbox_libs.hpp"

using namespace nvmfd;
using namespace nvmfd::lua;

namespace {

std::unique_ptr<Sandbox> make(PolicyLimits limits = {}) {
    log::set_level(log::Level::Warning);
    auto sb = Sandbox::create("test", limits);
    REQUIRE(sb);
    return std::move(*sb);
}

// Runs a chunk named t.lua; the error, if any.
std::optional<std::string> run(Sandbox& sb, const std::string& source) {
    return sb.call([&](lua_State* L) {
        Sandbox::push_chunk(L, source, "t.lua");
        return 0;
    });
}

void expect_error(Sandbox& sb, const std::string& source, const std::string& needle) {
    CAPTURE(source);
    auto err = run(sb, source);
    REQUIRE(err);
    CAPTURE(*err);
    CHECK(err->find(needle) != std::string::npos);
}

}  // namespace

TEST_CASE("each forbidden facility fails with an error naming it") {
    auto sb = make();
    expect_error(*sb, "os.execute('true')", "t.lua:1: os is not available");
    expect_error(*sb, "io.write('x')", "t.lua:1: io is not available");
    expect_error(*sb, "debug.sethook()", "t.lua:1: debug is not available");
    expect_error(*sb, "package.path = ''", "t.lua:1: package is not available");
    expect_error(*sb, "require('socket')", "t.lua:1: require is not available");
    expect_error(*sb, "dofile('/etc/passwd')", "t.lua:1: dofile is not available");
    expect_error(*sb, "loadfile('/etc/passwd')", "t.lua:1: loadfile is not available");
    expect_error(*sb, "coroutine.wrap(print)", "t.lua:1: coroutine is not available");
    expect_error(*sb, "string.dump(print)", "t.lua:1: string.dump is not available");
    expect_error(*sb, "load('\\27Lua')", "t.lua:1: load: binary chunks are not allowed");
    expect_error(*sb, "load('return 1', 'x', 'b')", "t.lua:1: load: binary chunks are not allowed");
    expect_error(*sb, "setmetatable({}, {__gc = function() end})", "t.lua:1: setmetatable: __gc metamethods are not allowed");
    expect_error(*sb, "setmetatable(_G, {})", "t.lua:1: setmetatable: the metatable of _G cannot be changed");
    expect_error(*sb, "collectgarbage('stop')", "t.lua:1: collectgarbage('stop') is not available");
    expect_error(*sb, "collectgarbage('generational')", "collectgarbage('generational') is not available");
    // The guards themselves cannot be removed.
    CHECK_FALSE(run(*sb, "assert(getmetatable(_G) == 'locked by the nvmfd sandbox')"));
    CHECK_FALSE(run(*sb, "assert(rawget(_G, 'os') == nil and rawget(_G, 'io') == nil)"));
}

TEST_CASE("the allowed libraries work") {
    auto sb = make();
    CHECK_FALSE(run(*sb, R"(
        assert(string.format('%d-%s', 4, 'x') == '4-x')
        assert(table.concat({1, 2, 3}, ',') == '1,2,3')
        assert(math.max(1, 5) == 5)
        assert(utf8.len('h\u{e9}') == 2)
        assert(load('return 1 + 1')() == 2)
        local t = setmetatable({}, {__index = function() return 7 end})
        assert(t.x == 7)
        assert(collectgarbage('count') > 0)
        local y, m = ('nqn.2014-08.org.nvmexpress:uuid:x'):match('^nqn%.(%d+)%-(%d+)')
        assert(y == '2014' and m == '08')
        assert(select('#', string.gsub('a b c', '%s', '_')) == 2)
        print('printing goes to the log')
    )"));
}

TEST_CASE("errors carry the file and line, without a traceback") {
    auto sb = make();
    auto err = run(*sb, "local x = nil\nx.y = 1\n");
    REQUIRE(err);
    CHECK(err->starts_with("t.lua:2: "));
    CHECK(err->find("traceback") == std::string::npos);
    err = run(*sb, "local function f()\n  return string.rep()\nend\nf()");
    REQUIRE(err);
    CHECK(err->starts_with("t.lua:2: "));  // raised in C, placed at the calling line
    err = run(*sb, "if then");
    REQUIRE(err);
    CHECK(err->starts_with("t.lua:1: "));
}

TEST_CASE("an infinite loop is stopped by the instruction limit") {
    auto sb = make(PolicyLimits{.instructions = 200'000, .time_budget = std::chrono::seconds(30)});
    auto err = run(*sb, "while true do end");
    REQUIRE(err);
    CHECK(err->find("instruction limit exceeded (200000 per call)") != std::string::npos);
    // Catching the error does not help: once out of budget, every instruction fails.
    err = run(*sb, "while true do pcall(function() while true do end end) end");
    REQUIRE(err);
    CHECK(err->find("instruction limit exceeded") != std::string::npos);
    // The next call has a fresh budget.
    CHECK_FALSE(run(*sb, "local n = 0 for i = 1, 1000 do n = n + i end assert(n == 500500)"));
}

TEST_CASE("a loop of heavy C calls is stopped by the time budget") {
    auto sb = make(PolicyLimits{.instructions = 1'000'000'000'000, .time_budget = std::chrono::milliseconds(200)});
    auto start = std::chrono::steady_clock::now();
    auto err = run(*sb, "local s = string.rep('x', 1 << 20) while true do s = s:upper():lower() end");
    auto took = std::chrono::steady_clock::now() - start;
    REQUIRE(err);
    CHECK(err->find("time budget exceeded (200 ms per call)") != std::string::npos);
    CHECK(took < std::chrono::seconds(10));
    CHECK_FALSE(run(*sb, "assert(1 + 1 == 2)"));
}

namespace {

// Stands in for a binding whose Control call is slow (a loaded machine, a
// slow disk under the state file's fsync): 300 ms of nvmfd's own time.
int slow_native(lua_State* L) {
    Sandbox::NativeTime native(L);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    return 0;
}
// The same time spent without saying it is nvmfd's.
int slow_unmarked(lua_State*) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    return 0;
}

}  // namespace

TEST_CASE("time spent in nvmfd's own work for a binding does not count against the script's budget") {
    auto sb = make(PolicyLimits{.time_budget = std::chrono::milliseconds(200)});
    REQUIRE_FALSE(sb->protect([](lua_State* L) {
        lua_register(L, "slow_native", slow_native);
        lua_register(L, "slow_unmarked", slow_unmarked);
    }));
    // 600 ms in bindings, then enough Lua for the budget check to run.
    const char* busy = "local n = 0 for i = 1, 200000 do n = n + i end";
    CHECK_FALSE(run(*sb, std::string("slow_native() slow_native() ") + busy));
    auto err = run(*sb, std::string("slow_unmarked() ") + busy);
    REQUIRE(err);
    CHECK(err->find("time budget exceeded") != std::string::npos);
}

TEST_CASE("allocation bombs fail with a memory error and the state stays usable") {
    // A generous time budget: this is about memory, and a loaded machine
    // must not turn it into a time-budget error.
    PolicyLimits limits{.memory_bytes = 8u << 20, .time_budget = std::chrono::seconds(60)};
    auto sb = make(limits);
    auto err = run(*sb, "local t = {} while true do t[#t+1] = string.rep('x', 1e6) end");
    REQUIRE(err);
    CHECK(err->find("memory limit exceeded (8388608 bytes per policy)") != std::string::npos);
    err = run(*sb, "local s = string.rep('x', 1e12)");
    REQUIRE(err);
    CAPTURE(*err);
    CHECK(err->find("memory limit exceeded") != std::string::npos);
    err = run(*sb, "local s = 'x' while true do s = s .. s end");
    REQUIRE(err);
    CHECK(err->find("memory limit exceeded") != std::string::npos);
    // pcall cannot grow past the cap either; the state is still usable.
    CHECK_FALSE(run(*sb, "local ok = pcall(string.rep, 'x', 1e9) assert(not ok)"));
    CHECK(sb->memory_bytes() < limits.memory_bytes / 2);
    CHECK_FALSE(run(*sb, "local t = {} for i = 1, 1000 do t[i] = tostring(i) end assert(#t == 1000)"));
}

TEST_CASE("C loops that neither allocate nor run Lua code are bounded") {
    auto sb = make();
    auto start = std::chrono::steady_clock::now();
    auto err = run(*sb, "table.move({}, 1, 1e12, 2)");
    REQUIRE(err);
    CHECK(err->find("table.move: more than") != std::string::npos);
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
    CHECK_FALSE(run(*sb, "local t = table.move({1, 2, 3}, 1, 3, 2) assert(t[4] == 3)"));
}

TEST_CASE("deep recursion and huge format widths fail cleanly") {
    // Filling 32 MiB with frames takes a while on a loaded machine: the
    // time budget must not be what stops it.
    auto sb = make(PolicyLimits{.time_budget = std::chrono::seconds(60)});
    auto err = run(*sb, "local function f(n) return f(n + 1) + 1 end f(1)");
    REQUIRE(err);
    CAPTURE(*err);
    CHECK((err->find("memory limit exceeded") != std::string::npos || err->find("stack overflow") != std::string::npos));
    CHECK_FALSE(run(*sb, "local function f(n) if n == 0 then return 0 end return f(n - 1) + 1 end assert(f(1000) == 1000)"));
    err = run(*sb, "return string.format('%099999d', 1)");
    REQUIRE(err);
    CHECK(err->find("invalid conversion") != std::string::npos);
    CHECK_FALSE(run(*sb, "assert(#string.format('%99d', 1) == 99)"));
}

TEST_CASE("pathological patterns are refused before they run") {
    auto sb = make();
    auto start = std::chrono::steady_clock::now();
    for (const char* fn : {"find", "match", "gmatch", "gsub"}) {
        std::string src = fmt::format("return string.{}(string.rep('a', 5000), string.rep('a*', 20) .. 'b', '')", fn);
        CAPTURE(src);
        auto err = run(*sb, src);
        REQUIRE(err);
        CHECK(err->find(fmt::format("string.{}: pattern too costly for a 5000-byte subject", fn)) != std::string::npos);
    }
    CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
    // A plain find is linear: allowed on any subject.
    CHECK_FALSE(run(*sb, "assert(string.find(string.rep('a', 100000) .. 'b', 'a*b', 1, true) == nil)"));
    // The estimate: quantifiers multiply, an anchor saves the scan over start positions.
    // A long plain pattern on a long subject is quadratic too.
    auto err = run(*sb, "return string.find(string.rep('a', 1 << 20), string.rep('a', 1 << 12) .. 'b', 1, true)");
    REQUIRE(err);
    CHECK(err->find("string.find: pattern too costly") != std::string::npos);
    // The estimate: quantifiers multiply, an anchor saves the scan over start positions.
    CHECK(pattern_cost(99, "abc") == doctest::Approx(4 * 100));
    CHECK(pattern_cost(99, "^a*b") == doctest::Approx(5 * 100));
    CHECK(pattern_cost(99, "a*b") == doctest::Approx(4 * 10000));
    CHECK(pattern_cost(99, "[a-z]%-x") == doctest::Approx(9 * 100));  // '-' in a set and escaped '%-' are not quantifiers
}
