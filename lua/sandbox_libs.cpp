#include "lua/sandbox_libs.hpp"

#include <array>
#include <cmath>
#include <string_view>

#include "core/runtime/log.hpp"

namespace nvmfd::lua {
namespace {

constexpr const char* kSandbox = "is not available in nvmfd policies (sandbox)";
constexpr const char* kSandboxPlural = "are not allowed in nvmfd policies (sandbox)";

// Globals a script might reach for, and the error it gets instead of
// "attempt to index a nil value".
constexpr std::array kForbiddenGlobals{"os",      "io",       "debug",    "package", "require",
                                       "dofile",  "loadfile", "coroutine", "loadstring", "module"};

int forbidden_index(lua_State* L) {
    // upvalue 1: the table's name prefix ("" for globals, "string." ...)
    const char* prefix = lua_tostring(L, lua_upvalueindex(1));
    if (lua_type(L, 2) == LUA_TSTRING) {
        std::string_view key = lua_tostring(L, 2);
        lua_pushvalue(L, 2);
        if (lua_rawget(L, lua_upvalueindex(2)) != LUA_TNIL)
            return luaL_error(L, "%s%s %s", prefix, std::string(key).c_str(), kSandbox);
    }
    lua_pushnil(L);
    return 1;
}

// Gives `t` (at index) a locked metatable whose __index names the
// forbidden keys; its own missing keys stay nil.
template <size_t N>
void guard_table(lua_State* L, int index, const char* prefix, const std::array<const char*, N>& names) {
    index = lua_absindex(L, index);
    lua_createtable(L, 0, 2);
    lua_pushstring(L, prefix);
    lua_createtable(L, 0, N);
    for (const char* n : names) {
        lua_pushboolean(L, 1);
        lua_setfield(L, -2, n);
    }
    lua_pushcclosure(L, forbidden_index, 2);
    lua_setfield(L, -2, "__index");
    lua_pushstring(L, "locked by the nvmfd sandbox");
    lua_setfield(L, -2, "__metatable");  // getmetatable sees this; setmetatable refuses
    lua_setmetatable(L, index);
}

// Calls the original function (upvalue 1) with all arguments.
int call_original(lua_State* L) {
    int n = lua_gettop(L);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, n, LUA_MULTRET);
    return lua_gettop(L);
}

int safe_load(lua_State* L) {
    if (lua_type(L, 1) == LUA_TSTRING && lua_tostring(L, 1)[0] == LUA_SIGNATURE[0])
        return luaL_error(L, "load: binary chunks %s", kSandboxPlural);
    const char* mode = luaL_optstring(L, 3, "t");
    if (std::string_view(mode).find('b') != std::string_view::npos)
        return luaL_error(L, "load: binary chunks %s", kSandboxPlural);
    // Pass an explicit env only if given: load treats a nil 4th argument
    // as "no _ENV".
    if (lua_gettop(L) < 3) lua_settop(L, 3);
    lua_pushliteral(L, "t");
    lua_replace(L, 3);
    return call_original(L);
}

int safe_collectgarbage(lua_State* L) {
    std::string_view opt = luaL_optstring(L, 1, "collect");
    if (opt != "collect" && opt != "count" && opt != "step" && opt != "isrunning")
        return luaL_error(L, "collectgarbage('%s') %s", std::string(opt).c_str(), kSandbox);
    return call_original(L);
}

// A __gc metamethod would run at an arbitrary later moment (even at
// unload, outside any handler's budget): refused.
int safe_setmetatable(lua_State* L) {
    lua_pushglobaltable(L);
    bool globals = lua_rawequal(L, 1, -1);
    lua_pop(L, 1);
    if (globals) return luaL_error(L, "setmetatable: the metatable of _G %s", "cannot be changed in nvmfd policies (sandbox)");
    if (lua_type(L, 2) == LUA_TTABLE) {
        lua_pushliteral(L, "__gc");
        bool gc = lua_rawget(L, 2) != LUA_TNIL;
        lua_pop(L, 1);
        if (gc) return luaL_error(L, "setmetatable: __gc metamethods %s", kSandboxPlural);
    }
    return call_original(L);
}

int log_print(lua_State* L) {
    int n = lua_gettop(L);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 1; i <= n; ++i) {
        if (i > 1) luaL_addchar(&b, '\t');
        luaL_tolstring(L, i, nullptr);
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    log::info("policy {}: {}", lua_tostring(L, lua_upvalueindex(1)), lua_tostring(L, -1));
    return 0;
}

int bounded_pattern_call(lua_State* L) {
    // upvalue 1: the original; 2: its name; 3: the step limit.
    const char* name = lua_tostring(L, lua_upvalueindex(2));
    size_t n = 0, plen = 0;
    luaL_checklstring(L, 1, &n);
    const char* p = luaL_checklstring(L, 2, &plen);
    bool plain = std::string_view(name) == "string.find" && lua_toboolean(L, 4);
    double cost = plain ? (static_cast<double>(n) + 1) * (static_cast<double>(plen) + 1)
                        : pattern_cost(n, std::string_view(p, plen));
    if (cost > lua_tonumber(L, lua_upvalueindex(3)))
        return luaL_error(L,
                          "%s: pattern too costly for a %d-byte subject (its worst case exceeds the sandbox's "
                          "matching budget: use fewer quantifiers, an anchor '^' or a shorter subject)",
                          name, static_cast<int>(n));
    return call_original(L);
}

// Lua refuses results above 2 GiB itself; anything above the memory cap
// cannot succeed either, so it fails at once as what it is.
int bounded_rep(lua_State* L) {
    size_t len = 0, sep = 0;
    luaL_checklstring(L, 1, &len);
    lua_Integer n = luaL_checkinteger(L, 2);
    luaL_optlstring(L, 3, "", &sep);
    auto cap = static_cast<double>(lua_tointeger(L, lua_upvalueindex(2)));
    double result = n <= 0 ? 0.0 : static_cast<double>(len) * n + static_cast<double>(sep) * (n - 1);
    if (result > cap)
        return luaL_error(L, "string.rep: memory limit exceeded (a result of %f bytes; %I bytes per policy)", result,
                          static_cast<lua_Integer>(cap));
    return call_original(L);
}

// table.move copies nils without allocating and without running Lua code:
// a huge range would loop in C, unseen by the count hook and the
// allocator. A range larger than the memory cap could hold is refused.
int bounded_move(lua_State* L) {
    lua_Integer f = luaL_checkinteger(L, 2);
    lua_Integer e = luaL_checkinteger(L, 3);
    lua_Integer most = lua_tointeger(L, lua_upvalueindex(2));
    if (e >= f && (f <= 0 ? e > most : e - f >= most))
        return luaL_error(L, "table.move: more than %I elements %s", most, "cannot be moved in nvmfd policies (sandbox)");
    return call_original(L);
}

void wrap(lua_State* L, int table, const char* field, lua_CFunction fn) {
    lua_getfield(L, table, field);
    lua_pushcclosure(L, fn, 1);
    lua_setfield(L, table, field);
}

void open(lua_State* L, const char* name, lua_CFunction f) {
    luaL_requiref(L, name, f, 1);
    lua_pop(L, 1);
}

}  // namespace

void open_sandbox_libraries(lua_State* L, const std::string& policy_name, const PolicyLimits& limits_ref) {
    const PolicyLimits* limits = &limits_ref;
    const char* policy = policy_name.c_str();
    open(L, LUA_GNAME, luaopen_base);
    open(L, LUA_STRLIBNAME, luaopen_string);
    open(L, LUA_TABLIBNAME, luaopen_table);
    open(L, LUA_MATHLIBNAME, luaopen_math);
    open(L, LUA_UTF8LIBNAME, luaopen_utf8);

    lua_pushglobaltable(L);
    int g = lua_gettop(L);
    for (const char* name : {"dofile", "loadfile"}) {
        lua_pushnil(L);
        lua_setfield(L, g, name);
    }
    wrap(L, g, "load", safe_load);
    wrap(L, g, "collectgarbage", safe_collectgarbage);
    wrap(L, g, "setmetatable", safe_setmetatable);
    lua_pushstring(L, policy);
    lua_pushcclosure(L, log_print, 1);
    lua_setfield(L, g, "print");

    lua_getglobal(L, LUA_STRLIBNAME);
    int s = lua_gettop(L);
    lua_pushnil(L);
    lua_setfield(L, s, "dump");
    for (const char* fn : {"find", "match", "gmatch", "gsub"}) {
        lua_getfield(L, s, fn);
        lua_pushfstring(L, "string.%s", fn);
        lua_pushnumber(L, limits->max_pattern_steps);
        lua_pushcclosure(L, bounded_pattern_call, 3);
        lua_setfield(L, s, fn);
    }
    lua_getfield(L, s, "rep");
    lua_pushinteger(L, static_cast<lua_Integer>(limits->memory_bytes));
    lua_pushcclosure(L, bounded_rep, 2);
    lua_setfield(L, s, "rep");
    guard_table(L, s, "string.", std::array{"dump"});
    lua_getglobal(L, LUA_TABLIBNAME);
    lua_getfield(L, -1, "move");
    lua_pushinteger(L, static_cast<lua_Integer>(limits->memory_bytes / sizeof(lua_Integer)));
    lua_pushcclosure(L, bounded_move, 2);
    lua_setfield(L, -2, "move");
    lua_pop(L, 1);
    guard_table(L, g, "", kForbiddenGlobals);
    lua_settop(L, 0);
}

double pattern_cost(size_t n, std::string_view p) {
    bool anchored = !p.empty() && p[0] == '^';
    double quantifiers = 0;
    for (size_t i = anchored ? 1 : 0; i < p.size(); ++i) {
        char c = p[i];
        if (c == '%') {
            if (i + 1 < p.size() && p[i + 1] == 'b') quantifiers += 1;  // %bxy scans ahead
            ++i;  // the escaped character
        } else if (c == '[') {
            // skip the set: a leading '^' and ']' are part of it; '%]' escapes
            size_t j = i + 1;
            if (j < p.size() && p[j] == '^') ++j;
            if (j < p.size() && p[j] == ']') ++j;
            while (j < p.size() && p[j] != ']') j += (p[j] == '%') ? 2 : 1;
            i = j;
        } else if (c == '*' || c == '+' || c == '-' || c == '?') {
            quantifiers += 1;
        }
    }
    // Each attempt compares up to the whole pattern (plain finds too).
    return (static_cast<double>(p.size()) + 1) *
           std::pow(static_cast<double>(n) + 1, quantifiers + (anchored ? 0 : 1));
}

}  // namespace nvmfd::lua
