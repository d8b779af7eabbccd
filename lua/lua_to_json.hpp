// A Lua value as JSON, for what a policy hands back (a template's result)
// and what a dry run reports (the arguments of each call): sequences become
// arrays, other tables objects with string keys, functions and other
// values that have no JSON form their type name in angle brackets.
#pragma once

#include <lua.hpp>
#include <nlohmann/json.hpp>

namespace nvmfd::lua {

nlohmann::json to_json(lua_State* L, int index);

}  // namespace nvmfd::lua
