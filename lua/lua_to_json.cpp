#include "lua/lua_to_json.hpp"

#include <string>

#include "lua/errors.hpp"

namespace nvmfd::lua {
namespace {

constexpr int kMaxDepth = 16;  // a self-referencing table stops here

bool is_sequence(lua_State* L, int index) {
    lua_Integer n = static_cast<lua_Integer>(lua_rawlen(L, index));
    lua_Integer count = 0;
    lua_pushnil(L);
    while (lua_next(L, index)) {
        lua_pop(L, 1);
        if (!lua_isinteger(L, -1)) {
            lua_pop(L, 1);
            return false;
        }
        ++count;
    }
    return count == n && n > 0;
}

nlohmann::json convert(lua_State* L, int index, int depth) {
    index = lua_absindex(L, index);
    switch (lua_type(L, index)) {
    case LUA_TNIL: return nullptr;
    case LUA_TBOOLEAN: return static_cast<bool>(lua_toboolean(L, index));
    case LUA_TNUMBER:
        if (lua_isinteger(L, index)) return static_cast<int64_t>(lua_tointeger(L, index));
        return lua_tonumber(L, index);
    case LUA_TSTRING: {
        size_t len = 0;
        const char* s = lua_tolstring(L, index, &len);
        return std::string(s, len);
    }
    case LUA_TTABLE: {
        if (auto e = error_from_lua(L, index))
            return {{"name", error_code_name(e->code)}, {"message", e->message}, {"field", e->field}};
        if (depth >= kMaxDepth) return "<table nested too deep>";
        luaL_checkstack(L, 3, "table too deep");
        if (is_sequence(L, index)) {
            nlohmann::json out = nlohmann::json::array();
            lua_Integer n = static_cast<lua_Integer>(lua_rawlen(L, index));
            for (lua_Integer i = 1; i <= n; ++i) {
                lua_rawgeti(L, index, i);
                out.push_back(convert(L, -1, depth + 1));
                lua_pop(L, 1);
            }
            return out;
        }
        nlohmann::json out = nlohmann::json::object();
        lua_pushnil(L);
        while (lua_next(L, index)) {
            std::string key;
            if (lua_type(L, -2) == LUA_TSTRING) key = lua_tostring(L, -2);
            else if (lua_isinteger(L, -2)) key = std::to_string(lua_tointeger(L, -2));
            else key = std::string("<") + luaL_typename(L, -2) + ">";
            out[key] = convert(L, -1, depth + 1);
            lua_pop(L, 1);
        }
        return out;
    }
    case LUA_TUSERDATA:
        if (luaL_testudata(L, index, "nvmfd.timer")) return "<timer>";
        return "<userdata>";
    default: return std::string("<") + luaL_typename(L, index) + ">";
    }
}

}  // namespace

nlohmann::json to_json(lua_State* L, int index) { return convert(L, index, 0); }

}  // namespace nvmfd::lua
