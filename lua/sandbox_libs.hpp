// The libraries a policy gets: base (without dofile, loadfile, and with
// load restricted to text), string (without dump, pattern calls bounded),
// table, math, utf8. Everything else (os, io, debug, package, require,
// coroutine) is absent, and touching it raises an error naming it.
#pragma once

#include <string>

#include <lua.hpp>

#include "lua/limits.hpp"

namespace nvmfd::lua {

// Runs inside a protected call (it may raise out of memory).
void open_sandbox_libraries(lua_State* L, const std::string& policy, const PolicyLimits& limits);

// Worst-case steps of Lua's backtracking matcher for a pattern on a
// subject of n bytes (an over-estimate: each quantifier may retry every
// position, and an unanchored pattern is tried at every start).
double pattern_cost(size_t n, std::string_view pattern);

}  // namespace nvmfd::lua
