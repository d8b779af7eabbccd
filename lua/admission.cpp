#include "lua/admission.hpp"

#include "core/runtime/untrusted_text.hpp"

namespace nvmfd::lua {
namespace {

void set_string(lua_State* L, const char* key, const std::string& value) {
    lua_pushlstring(L, value.data(), value.size());
    lua_setfield(L, -2, key);
}

std::string reason_text(lua_State* L, int index) {
    size_t len = 0;
    const char* s = lua_tolstring(L, index, &len);
    std::string_view text(s, std::min(len, kMaxReasonBytes));
    if (text.empty()) return "no reason given";
    return runtime::escape_untrusted(text);
}

// The reason at `index`: absent (nil) or a string.
std::string read_reason(lua_State* L, int index) {
    int type = lua_type(L, index);
    if (type == LUA_TNIL) return "no reason given";
    if (type != LUA_TSTRING)
        luaL_error(L, "%s: the reason must be a string, not a %s", kAdmissionHandler, luaL_typename(L, index));
    return reason_text(L, index);
}

}  // namespace

void push_admission_info(lua_State* L, const control::AdmissionQuery& q) {
    lua_createtable(L, 0, 5);
    set_string(L, "host", q.host);
    set_string(L, "hostid", q.hostid);
    set_string(L, "subsystem", q.subsystem);
    lua_pushinteger(L, q.port);
    lua_setfield(L, -2, "port");
    set_string(L, "address", q.address);
}

void read_admission_results(lua_State* L, int count, ScriptVerdict& out) {
    out = ScriptVerdict{};
    if (count == 0) return;
    int first = lua_gettop(L) - count + 1;
    switch (lua_type(L, first)) {
    case LUA_TNIL: return;
    case LUA_TBOOLEAN:
        out.allow = lua_toboolean(L, first);
        if (!out.allow) out.reason = count > 1 ? read_reason(L, first + 1) : "no reason given";
        return;
    case LUA_TTABLE: {
        int allow_type = lua_getfield(L, first, "allow");
        if (allow_type != LUA_TBOOLEAN)
            luaL_error(L, "%s: the returned table needs a boolean 'allow' (it has a %s)", kAdmissionHandler,
                       lua_typename(L, allow_type));
        out.allow = lua_toboolean(L, -1);
        lua_pop(L, 1);
        lua_getfield(L, first, "reason");
        if (!out.allow) out.reason = read_reason(L, -1);
        lua_pop(L, 1);
        return;
    }
    default:
        luaL_error(L, "%s must return true, false and a reason, or {allow = ..., reason = ...}; it returned a %s",
                   kAdmissionHandler, luaL_typename(L, first));
    }
}

}  // namespace nvmfd::lua
