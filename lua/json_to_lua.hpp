// A JSON value as a Lua value (objects become tables with string keys,
// arrays sequences from 1, null is absent): nvmfd.state() hands a script
// the same document as the state file and `config save`.
#pragma once

#include <lua.hpp>
#include <nlohmann/json.hpp>

namespace nvmfd::lua {

void push_json(lua_State* L, const nlohmann::json& j);

}  // namespace nvmfd::lua
