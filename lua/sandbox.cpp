#include "lua/sandbox.hpp"

#include <cstdlib>
#include <fmt/format.h>

#include "lua/errors.hpp"
#include "lua/sandbox_libs.hpp"

namespace nvmfd::lua {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int kHookPeriod = 1000;  // instructions between two budget checks

std::string limit_message(const PolicyLimits& l, Sandbox::Stop stop) {
    switch (stop) {
    case Sandbox::Stop::Instructions: return fmt::format("instruction limit exceeded ({} per call)", l.instructions);
    case Sandbox::Stop::Time: return fmt::format("time budget exceeded ({} ms per call)", l.time_budget.count());
    case Sandbox::Stop::None: break;
    }
    return fmt::format("memory limit exceeded ({} bytes per policy)", l.memory_bytes);
}

void count_hook(lua_State* L, lua_Debug*);

// Once a call is out of budget every instruction fails, so a script cannot
// catch the error with pcall and carry on.
void stop_call(Sandbox::Budget& b, Sandbox::Stop why) {
    b.stop = why;
    lua_sethook(b.state, count_hook, LUA_MASKCOUNT, 1);
}

Sandbox::Budget& budget_of(lua_State* L) {
    void* ud = nullptr;
    lua_getallocf(L, &ud);
    return *static_cast<Sandbox::Budget*>(ud);
}

// The memory cap. Growth beyond it fails (Lua raises "not enough memory");
// so does any growth once this call's budget is spent, which bounds C
// functions that allocate in a loop (string.rep, table.concat, gsub).
void* allocate(void* ud, void* ptr, size_t osize, size_t nsize) {
    auto& b = *static_cast<Sandbox::Budget*>(ud);
    size_t old = ptr ? osize : 0;  // without ptr, osize is a type tag
    if (nsize == 0) {
        std::free(ptr);
        b.used -= old;
        return nullptr;
    }
    if (nsize > old) {
        if (nsize - old > b.limits.memory_bytes - b.used) return nullptr;
        if (b.armed && b.stop == Sandbox::Stop::None && Clock::now() > b.deadline) stop_call(b, Sandbox::Stop::Time);
        if (b.stop == Sandbox::Stop::Time) return nullptr;
    }
    void* p = std::realloc(ptr, nsize);
    if (!p) return nullptr;
    b.used = b.used - old + nsize;
    return p;
}

void count_hook(lua_State* L, lua_Debug*) {
    auto& b = budget_of(L);
    if (!b.armed) return;
    b.instructions += kHookPeriod;
    if (b.stop == Sandbox::Stop::None) {
        if (b.instructions > b.limits.instructions) stop_call(b, Sandbox::Stop::Instructions);
        else if (Clock::now() > b.deadline) stop_call(b, Sandbox::Stop::Time);
    }
    if (b.stop == Sandbox::Stop::None) return;
    // (Lua here is the C++ build: the error unwinds this frame normally.)
    std::string msg = limit_message(b.limits, b.stop);
    luaL_error(L, "%s", msg.c_str());
}

// "FILE:LINE: " of the innermost Lua function running, or "".
std::string lua_location(lua_State* L) {
    lua_Debug ar;
    for (int level = 0; lua_getstack(L, level, &ar); ++level) {
        lua_getinfo(L, "Sl", &ar);
        if (ar.currentline > 0) return fmt::format("{}:{}: ", ar.short_src, ar.currentline);
    }
    return {};
}

// Turns any error value into "FILE:LINE: message" (no traceback): error
// tables of the bindings through their __tostring, and errors raised in C
// functions (which carry no position) get the calling Lua line.
int message_handler(lua_State* L) {
    if (auto e = error_from_lua(L, 1)) budget_of(L).typed_error = std::move(*e);
    size_t len = 0;
    const char* msg = luaL_tolstring(L, 1, &len);
    std::string where = lua_location(L);
    std::string_view text(msg, len);
    // Errors raised by Lua code already start with their position.
    std::string_view file = std::string_view(where).substr(0, where.find(':') + 1);
    if (where.empty() || (!file.empty() && text.starts_with(file))) return 1;
    lua_pushfstring(L, "%s%s", where.c_str(), msg);
    return 1;
}

struct PushAndReceive {
    const Sandbox::Pusher& push;
    const Sandbox::Receiver* receive;  // null: results are dropped
};

// Inside the protected call: the caller's Pusher, then the function it
// pushed, then the caller's Receiver on its results.
int run_pushed(lua_State* L) {
    const auto& run = *static_cast<const PushAndReceive*>(lua_touserdata(L, 1));
    lua_settop(L, 0);
    int nargs = run.push(L);
    if (!run.receive) {
        lua_call(L, nargs, 0);
        return 0;
    }
    lua_call(L, nargs, LUA_MULTRET);
    (*run.receive)(L, lua_gettop(L));
    return 0;
}

int run_protected(lua_State* L) {
    const auto& fn = *static_cast<const std::function<void(lua_State*)>*>(lua_touserdata(L, 1));
    lua_settop(L, 0);
    fn(L);
    return 0;
}

}  // namespace

Result<std::unique_ptr<Sandbox>> Sandbox::create(const std::string& name, const PolicyLimits& limits) {
    std::unique_ptr<Sandbox> sb(new Sandbox(limits));  // private constructor: make_unique cannot reach it
    sb->state_.reset(lua_newstate(allocate, &sb->budget_));
    if (!sb->state_) return make_error(ErrorCode::Internal, "cannot create a Lua state (memory limit too small?)");
    lua_State* L = sb->state();
    sb->budget_.state = L;
    lua_sethook(L, count_hook, LUA_MASKCOUNT, kHookPeriod);
    if (auto err = sb->protect([&](lua_State* L) { open_sandbox_libraries(L, name, limits); }))
        return make_error(ErrorCode::Internal, "cannot open the sandbox's libraries: " + *err);
    return sb;
}

// Closing runs pending finalizers; scripts cannot set any (no __gc), but
// should one slip through, it runs under a call's budget, not forever.
Sandbox::~Sandbox() {
    if (!state_) return;
    arm();
    state_.reset();
}

Sandbox::NativeTime::NativeTime(lua_State* L) : budget_(&budget_of(L)), start_(Clock::now()) {}

Sandbox::NativeTime::~NativeTime() {
    if (budget_->armed) budget_->deadline += Clock::now() - start_;
}

void Sandbox::arm() {
    budget_.armed = true;
    budget_.instructions = 0;
    budget_.stop = Stop::None;
    budget_.deadline = Clock::now() + budget_.limits.time_budget;
}

void Sandbox::push_chunk(lua_State* L, std::string_view source, const std::string& file) {
    std::string chunkname = "@" + file;
    if (luaL_loadbufferx(L, source.data(), source.size(), chunkname.c_str(), "t") != LUA_OK) lua_error(L);
}

std::optional<std::string> Sandbox::call(const Pusher& push) { return call(push, nullptr); }

std::optional<std::string> Sandbox::call(const Pusher& push, const Receiver& receive) {
    lua_State* L = state();
    int base = lua_gettop(L);
    budget_.typed_error.reset();
    PushAndReceive run{push, receive ? &receive : nullptr};
    lua_pushcfunction(L, message_handler);
    lua_pushcfunction(L, run_pushed);
    lua_pushlightuserdata(L, &run);
    arm();
    int st = lua_pcall(L, 1, 0, base + 1);
    Stop stop = budget_.stop;
    budget_.armed = false;
    budget_.stop = Stop::None;
    lua_sethook(L, count_hook, LUA_MASKCOUNT, kHookPeriod);

    std::optional<std::string> error;
    if (st != LUA_OK) {
        const char* text = lua_tostring(L, -1);
        std::string msg = text ? text : "";
        std::string limit = stop_message(stop);
        if (stop != Stop::None || st == LUA_ERRMEM) budget_.typed_error.reset();
        if (stop != Stop::None && msg.find(limit) == std::string::npos) msg = limit;
        else if (st == LUA_ERRMEM) msg = stop_message(Stop::None);
        error = std::move(msg);
        // Whatever the failed call built is garbage now; give it back so
        // the next call starts with the memory it should have.
        lua_settop(L, base);
        lua_gc(L, LUA_GCCOLLECT);
    }
    lua_settop(L, base);
    return error;
}

std::optional<std::string> Sandbox::protect(const std::function<void(lua_State*)>& fn) {
    lua_State* L = state();
    int base = lua_gettop(L);
    lua_pushcfunction(L, run_protected);
    lua_pushlightuserdata(L, const_cast<std::function<void(lua_State*)>*>(&fn));
    std::optional<std::string> error;
    if (lua_pcall(L, 1, 0, 0) != LUA_OK)
        error = lua_tostring(L, -1) ? lua_tostring(L, -1) : stop_message(Stop::None);
    lua_settop(L, base);
    return error;
}

std::string Sandbox::stop_message(Stop stop) const { return limit_message(budget_.limits, stop); }

}  // namespace nvmfd::lua
