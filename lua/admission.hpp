// on_host_connect(info): a policy's say in whether a host may connect.
// Unlike the event handlers it is a question with an answer:
//   info = {host, hostid, subsystem, port, address}
//   return true / nothing            -> allow
//   return false [, "reason"]        -> deny
//   return {allow = bool, reason = "..."}
// Anything else is an error of the call (and the static decision stands).
#pragma once

#include <string>

#include <lua.hpp>

#include "core/control/control.hpp"

namespace nvmfd::lua {

inline constexpr const char* kAdmissionHandler = "on_host_connect";
// A denial's reason longer than this is cut (it goes to the log, D-Bus and
// nvmfctl); bytes that are not printable UTF-8 are escaped.
inline constexpr size_t kMaxReasonBytes = 256;

struct ScriptVerdict {
    bool allow = true;
    std::string reason;
};

void push_admission_info(lua_State* L, const control::AdmissionQuery& q);
// Reads the handler's `count` results from the top of the stack; raises a
// Lua error for a result of the wrong shape.
void read_admission_results(lua_State* L, int count, ScriptVerdict& out);

}  // namespace nvmfd::lua
