// Control-plane errors as Lua error values: a table {name=, message=,
// field=} whose __tostring reads "NotFound: message (field)". The name is
// the ErrorCode's (the same as in org.nvmfd.Error.<Name> on D-Bus), so a
// script can test err.name.
#pragma once

#include <optional>
#include <string_view>

#include <lua.hpp>

#include "core/runtime/error.hpp"

namespace nvmfd::lua {

void push_error(lua_State* L, const Error& e);
// Raises it as a Lua error (the C++ build of Lua: an exception that runs
// the destructors of the frames it leaves).
[[noreturn]] void raise_error(lua_State* L, const Error& e);
[[noreturn]] void raise_invalid(lua_State* L, std::string message, std::string field);
// The Error behind an error table of push_error (a control call's, or one a
// script raised with nvmfd.error), or nothing for any other value.
std::optional<Error> error_from_lua(lua_State* L, int index);
std::optional<ErrorCode> error_code_from_name(std::string_view name);

// The value of a control call, or the error raised in Lua.
template <typename T>
T value_or_raise(lua_State* L, Result<T> r) {
    if (!r) raise_error(L, r.error());
    if constexpr (!std::is_void_v<T>) return std::move(*r);
}

}  // namespace nvmfd::lua
