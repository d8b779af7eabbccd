#include "lua/args.hpp"

#include <algorithm>
#include <fmt/format.h>

#include "lua/errors.hpp"

namespace nvmfd::lua {
namespace {

std::optional<uint64_t> to_uint(lua_State* L, int index, uint64_t max) {
    if (lua_type(L, index) != LUA_TNUMBER) return std::nullopt;
    int ok = 0;
    lua_Integer v = lua_tointegerx(L, index, &ok);
    if (!ok || v < 0 || static_cast<uint64_t>(v) > max) return std::nullopt;
    return static_cast<uint64_t>(v);
}

// The text of a scalar option value: strings, integers and booleans.
std::optional<std::string> scalar_text(lua_State* L, int index) {
    switch (lua_type(L, index)) {
    case LUA_TSTRING: return std::string(lua_tostring(L, index));
    case LUA_TBOOLEAN: return std::string(lua_toboolean(L, index) ? "true" : "false");
    case LUA_TNUMBER:
        if (lua_isinteger(L, index)) return std::to_string(lua_tointeger(L, index));
        return std::nullopt;
    default: return std::nullopt;
    }
}

}  // namespace

std::string arg_string(lua_State* L, int arg, const char* field) {
    if (lua_type(L, arg) != LUA_TSTRING) raise_invalid(L, "must be a string", field);
    return lua_tostring(L, arg);
}

uint64_t arg_uint(lua_State* L, int arg, const char* field, uint64_t max) {
    auto v = to_uint(L, arg, max);
    if (!v) raise_invalid(L, fmt::format("must be an integer from 0 to {}", max), field);
    return *v;
}

Options::Options(lua_State* L, int arg, std::initializer_list<const char*> keys)
    : L_(L), arg_(lua_absindex(L, arg)), present_(!lua_isnoneornil(L, arg)) {
    if (!present_) return;
    if (!lua_istable(L, arg_)) raise_invalid(L, "options must be a table", "options");
    lua_pushnil(L);
    while (lua_next(L, arg_)) {
        lua_pop(L, 1);
        std::string key = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "?";
        if (std::none_of(keys.begin(), keys.end(), [&](const char* k) { return key == k; }))
            raise_invalid(L, "unknown option", key);
    }
}

int Options::push(const char* key) const {
    if (!present_) {
        lua_pushnil(L_);
        return LUA_TNIL;
    }
    return lua_getfield(L_, arg_, key);
}

std::optional<std::string> Options::string(const char* key) const {
    int t = push(key);
    std::optional<std::string> out;
    if (t == LUA_TSTRING) out = lua_tostring(L_, -1);
    lua_pop(L_, 1);
    if (t != LUA_TNIL && !out) raise_invalid(L_, "must be a string", key);
    return out;
}

std::optional<bool> Options::boolean(const char* key) const {
    int t = push(key);
    bool v = lua_toboolean(L_, -1);
    lua_pop(L_, 1);
    if (t == LUA_TNIL) return std::nullopt;
    if (t != LUA_TBOOLEAN) raise_invalid(L_, "must be true or false", key);
    return v;
}

std::optional<uint64_t> Options::uint(const char* key, uint64_t max) const {
    int t = push(key);
    auto v = to_uint(L_, -1, max);
    lua_pop(L_, 1);
    if (t == LUA_TNIL) return std::nullopt;
    if (!v) raise_invalid(L_, fmt::format("must be an integer from 0 to {}", max), key);
    return v;
}

std::vector<std::string> Options::strings(const char* key) const {
    std::vector<std::string> out;
    int t = push(key);
    if (t != LUA_TNIL && t != LUA_TTABLE) raise_invalid(L_, "must be a list of strings", key);
    if (t == LUA_TTABLE) {
        lua_Integer n = static_cast<lua_Integer>(lua_rawlen(L_, -1));
        for (lua_Integer i = 1; i <= n; ++i) {
            lua_rawgeti(L_, -1, i);
            if (lua_type(L_, -1) != LUA_TSTRING) raise_invalid(L_, "must be a string", fmt::format("{}[{}]", key, i));
            out.emplace_back(lua_tostring(L_, -1));
            lua_pop(L_, 1);
        }
    }
    lua_pop(L_, 1);
    return out;
}

std::map<std::string, std::string> Options::string_map(const char* key) const {
    std::map<std::string, std::string> out;
    int t = push(key);
    if (t != LUA_TNIL && t != LUA_TTABLE) raise_invalid(L_, "must be a table", key);
    if (t == LUA_TTABLE) {
        int table = lua_gettop(L_);
        lua_pushnil(L_);
        while (lua_next(L_, table)) {
            if (lua_type(L_, -2) != LUA_TSTRING) raise_invalid(L_, "keys must be strings", key);
            std::string k = lua_tostring(L_, -2);
            auto v = scalar_text(L_, -1);
            if (!v) raise_invalid(L_, "must be a string, integer or boolean", fmt::format("{}.{}", key, k));
            out[k] = std::move(*v);
            lua_pop(L_, 1);
        }
    }
    lua_pop(L_, 1);
    return out;
}

}  // namespace nvmfd::lua
