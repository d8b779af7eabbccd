#include "lua/json_to_lua.hpp"

namespace nvmfd::lua {

void push_json(lua_State* L, const nlohmann::json& j) {
    luaL_checkstack(L, 3, "state too deep");
    switch (j.type()) {
    case nlohmann::json::value_t::object:
        lua_createtable(L, 0, static_cast<int>(j.size()));
        for (auto it = j.begin(); it != j.end(); ++it) {
            push_json(L, *it);
            lua_setfield(L, -2, it.key().c_str());
        }
        break;
    case nlohmann::json::value_t::array:
        lua_createtable(L, static_cast<int>(j.size()), 0);
        for (size_t i = 0; i < j.size(); ++i) {
            push_json(L, j[i]);
            lua_rawseti(L, -2, static_cast<lua_Integer>(i + 1));
        }
        break;
    case nlohmann::json::value_t::string: {
        const auto& s = j.get_ref<const std::string&>();
        lua_pushlstring(L, s.data(), s.size());
        break;
    }
    case nlohmann::json::value_t::boolean: lua_pushboolean(L, j.get<bool>()); break;
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned: lua_pushinteger(L, j.get<lua_Integer>()); break;
    case nlohmann::json::value_t::number_float: lua_pushnumber(L, j.get<double>()); break;
    default: lua_pushnil(L); break;
    }
}

}  // namespace nvmfd::lua
