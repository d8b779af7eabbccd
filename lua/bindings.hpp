// The `nvmfd` table a policy sees: logging, its parameters, the export
// state, and control calls. Control calls go through control::Control (the
// same validation and errors as D-Bus); an error is raised as the table of
// errors.hpp. Timer functions are added by timers.hpp.
#pragma once

#include <map>
#include <string>

#include <lua.hpp>

#include "core/control/control.hpp"

namespace nvmfd::lua {

class Timers;
class Probes;
class PeerWatches;
class CallRecorder;

// What the bindings of one policy work with; it lives in the Lua state's
// extra space, so every binding finds it without globals.
struct BindingContext {
    control::Control& control;
    std::string policy;
    std::map<std::string, std::string> params;
    Timers* timers = nullptr;
    Probes* probes = nullptr;
    PeerWatches* watches = nullptr;
    const bool* draining = nullptr;  // nvmfd.draining(); none: never
    // While the main chunk runs the policy is not accepted yet: calls that
    // change the target are refused then, so a refused load changes nothing.
    bool loading = true;
    // A dry run (`nvmfctl policy test`): every call that changes the target,
    // starts a timer or logs is recorded here, and log lines are not written.
    CallRecorder* recorder = nullptr;
};

BindingContext& binding_context(lua_State* L);
// Creates the global `nvmfd` table (and points the state at ctx). Runs
// inside a protected call (it may raise out of memory).
void install_bindings(lua_State* L, BindingContext& ctx);
// The metatable of a handle a binding returns (a timer, a peer watch):
// named `name`, with one method, handle:cancel().
void install_cancel_metatable(lua_State* L, const char* name, lua_CFunction cancel);

}  // namespace nvmfd::lua
