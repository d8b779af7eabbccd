// Control events as policy handlers: which global function of a script an
// event calls, and the table it gets. The names are the documented API
// (docs/lua-api.md):
//   on_controller_connect(info)     {subsystem, cntlid, host, port}
//   on_controller_disconnect(info)  {subsystem, cntlid, host, port, reason}
//   on_subsystem_change(info)       {subsystem, change = "added"|"removed"|"changed", host?}
//   on_namespace_change(info)       {subsystem, nsid, change = "added"|"removed"|"resized"|"visibility"|"ana-group"|"health",
//                                    ana_group?, critical_warning? (for "health")}
//   on_port_change(info)            {port, change = "added"|"removed"|"changed"|"down"|"up", subsystem? (linked or
//                                   unlinked), reason? (down: why it takes no new hosts)}
//   on_ana_change(info)             {port, group, state}
//   on_drain(info), on_resume(info) {draining} (nvmfctl gateway drain|resume: PolicyManager::set_draining)
//   on_backend_error(info)          {subsystem, nsid, errors, total} (backend_error_watch.hpp: at most one
//                                   per namespace per second)
//   on_peer_change(info)            {name, address, port, state = "up"|"down", reason?, missed?}
//                                   (nvmfd.watch_peer of this policy: peer_watch.hpp)
// and one that is not an event but a question (lua/admission.*):
//   on_host_connect(info)           {host, hostid, subsystem, port, address} -> allow?
#pragma once

#include <array>
#include <string_view>

#include <lua.hpp>

#include "core/control/events.hpp"

namespace nvmfd::lua {

inline constexpr std::array<std::string_view, 12> kHandlerNames{
    "on_start",       "on_controller_connect", "on_controller_disconnect", "on_subsystem_change",
    "on_namespace_change", "on_port_change",   "on_ana_change",            "on_drain",
    "on_resume",      "on_host_connect",       "on_backend_error",         "on_peer_change"};

const char* handler_for(control::EventKind kind);
void push_event_info(lua_State* L, const control::Event& e);

}  // namespace nvmfd::lua
