#include "lua/errors.hpp"

namespace nvmfd::lua {
namespace {

constexpr const char* kErrorMeta = "nvmfd.error";

int error_tostring(lua_State* L) {
    lua_getfield(L, 1, "name");
    lua_getfield(L, 1, "message");
    lua_getfield(L, 1, "field");
    const char* field = lua_tostring(L, -1);
    if (field && *field)
        lua_pushfstring(L, "%s: %s (%s)", lua_tostring(L, -3), lua_tostring(L, -2), field);
    else
        lua_pushfstring(L, "%s: %s", lua_tostring(L, -3), lua_tostring(L, -2));
    return 1;
}

}  // namespace

void push_error(lua_State* L, const Error& e) {
    lua_createtable(L, 0, 3);
    lua_pushstring(L, error_code_name(e.code));
    lua_setfield(L, -2, "name");
    lua_pushstring(L, e.message.c_str());
    lua_setfield(L, -2, "message");
    lua_pushstring(L, e.field.c_str());
    lua_setfield(L, -2, "field");
    if (luaL_newmetatable(L, kErrorMeta)) {
        lua_pushcfunction(L, error_tostring);
        lua_setfield(L, -2, "__tostring");
        // Locked: a script that could reach it could add __gc to it, and
        // every later error table would carry a finalizer.
        lua_pushstring(L, kErrorMeta);
        lua_setfield(L, -2, "__metatable");
    }
    lua_setmetatable(L, -2);
}

void raise_error(lua_State* L, const Error& e) {
    push_error(L, e);
    lua_error(L);
    __builtin_unreachable();
}

std::optional<ErrorCode> error_code_from_name(std::string_view name) {
    for (auto c : {ErrorCode::InvalidArgument, ErrorCode::NotFound, ErrorCode::AlreadyExists, ErrorCode::Busy,
                   ErrorCode::PermissionDenied, ErrorCode::NotSupported, ErrorCode::Io, ErrorCode::PluginError,
                   ErrorCode::Internal})
        if (name == error_code_name(c)) return c;
    return std::nullopt;
}

std::optional<Error> error_from_lua(lua_State* L, int index) {
    index = lua_absindex(L, index);
    if (!lua_istable(L, index) || !lua_getmetatable(L, index)) return std::nullopt;
    luaL_getmetatable(L, kErrorMeta);
    bool ours = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    if (!ours) return std::nullopt;
    auto text = [&](const char* key) {
        lua_getfield(L, index, key);
        std::string v = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
        lua_pop(L, 1);
        return v;
    };
    return Error{error_code_from_name(text("name")).value_or(ErrorCode::Internal), text("message"), text("field")};
}

void raise_invalid(lua_State* L, std::string message, std::string field) {
    raise_error(L, Error{ErrorCode::InvalidArgument, std::move(message), std::move(field)});
}

}  // namespace nvmfd::lua
