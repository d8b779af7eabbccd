#include "lua/bindings.hpp"

#include <array>
#include <cstring>

#include "core/control/data_path.hpp"
#include "core/control/state_json.hpp"
#include "core/runtime/log.hpp"
#include "core/target/ana.hpp"
#include "lua/args.hpp"
#include "lua/call_recorder.hpp"
#include "lua/errors.hpp"
#include "lua/json_to_lua.hpp"
#include "lua/sandbox.hpp"
#include "lua/peer_watch.hpp"
#include "lua/probes.hpp"
#include "lua/timers.hpp"

namespace nvmfd::lua {
namespace {

// The control API for the calls that change the target; refused while the
// policy's main chunk runs.
control::Control& changing(lua_State* L, const char* fn) {
    auto& ctx = binding_context(L);
    if (ctx.loading)
        raise_error(L, Error{ErrorCode::NotSupported,
                             fmt::format("nvmfd.{} cannot change the target while the policy loads; call it from "
                                         "on_start or another handler",
                                         fn),
                             ""});
    return ctx.control;
}

int l_log(lua_State* L) {
    std::string level = arg_string(L, 1, "level");
    std::string msg = arg_string(L, 2, "message");
    auto lvl = log::parse_level(level);
    if (!lvl || *lvl == log::Level::Trace)
        raise_invalid(L, "must be error, warn, notice, info or debug", "level");
    if (binding_context(L).recorder) return 0;  // a dry run lists it instead
    log::emit(*lvl, "policy {}: {}", binding_context(L).policy, msg);
    return 0;
}

// nvmfd.error(name, message [, field]): raises a typed error like the
// control calls' (a template refusing an argument names the field, and the
// caller sees it as that error, not as a failure of the policy).
int l_error(lua_State* L) {
    std::string name = arg_string(L, 1, "name");
    auto code = error_code_from_name(name);
    if (!code)
        raise_invalid(L, fmt::format("'{}' is not an nvmfd error name (InvalidArgument, NotFound, AlreadyExists, Busy, "
                                     "PermissionDenied, NotSupported, Io, PluginError, Internal)",
                                     name),
                      "name");
    std::string message = arg_string(L, 2, "message");
    std::string field = lua_isnoneornil(L, 3) ? "" : arg_string(L, 3, "field");
    raise_error(L, Error{*code, std::move(message), std::move(field)});
}

int l_state(lua_State* L) {
    push_json(L, control::to_json(binding_context(L).control.export_spec()));
    return 1;
}

int l_draining(lua_State* L) {
    const bool* d = binding_context(L).draining;
    lua_pushboolean(L, d && *d);
    return 1;
}

int l_controllers(lua_State* L) {
    auto list = binding_context(L).control.controllers();
    lua_createtable(L, static_cast<int>(list.size()), 0);
    lua_Integer i = 0;
    for (const auto& c : list) {
        lua_createtable(L, 0, 8);
        lua_pushstring(L, c.identity.subnqn.c_str());
        lua_setfield(L, -2, "subsystem");
        lua_pushinteger(L, c.identity.cntlid);
        lua_setfield(L, -2, "cntlid");
        lua_pushstring(L, c.identity.hostnqn.c_str());
        lua_setfield(L, -2, "host");
        lua_pushinteger(L, c.identity.port_id);
        lua_setfield(L, -2, "port");
        lua_pushstring(L, c.host_address.c_str());
        lua_setfield(L, -2, "address");
        lua_pushinteger(L, c.kato_ms);
        lua_setfield(L, -2, "kato_ms");
        lua_pushinteger(L, c.io_queues);
        lua_setfield(L, -2, "io_queues");
        lua_pushboolean(L, c.enabled);
        lua_setfield(L, -2, "enabled");
        lua_rawseti(L, -2, ++i);
    }
    return 1;
}

// The kernel's differences from nvmfd's configuration held back at start, one line each.
int l_kernel_drift(lua_State* L) {
    auto lines = binding_context(L).control.kernel_drift();
    lua_createtable(L, static_cast<int>(lines.size()), 0);
    lua_Integer i = 0;
    for (const auto& line : lines) {
        lua_pushlstring(L, line.data(), line.size());
        lua_rawseti(L, -2, ++i);
    }
    return 1;
}

int l_add_subsystem(lua_State* L) {
    auto& control = changing(L, "add_subsystem");
    std::string nqn = arg_string(L, 1, "nqn");
    Options o(L, 2, {"data_path", "passthru_device", "serial", "model", "allow_any_host", "max_namespaces",
                     "min_cntlid", "max_cntlid"});
    control::SubsystemSettings s;
    if (auto name = o.string("data_path")) {
        s.data_path = control::parse_data_path(*name);
        if (!s.data_path) raise_invalid(L, fmt::format("'{}' is not nvmfd or kernel", *name), "data_path");
    }
    s.passthru_device = o.string("passthru_device");
    s.serial = o.string("serial");
    s.model = o.string("model");
    s.allow_any_host = o.boolean("allow_any_host");
    if (auto m = o.uint("max_namespaces", 0xffffffff)) s.max_namespaces = static_cast<uint32_t>(*m);
    if (auto m = o.uint("min_cntlid", 0xffff)) s.min_cntlid = static_cast<uint16_t>(*m);
    if (auto m = o.uint("max_cntlid", 0xffff)) s.max_cntlid = static_cast<uint16_t>(*m);
    value_or_raise(L, control.add_subsystem(nqn, s));
    return 0;
}

int l_remove_subsystem(lua_State* L) {
    auto& control = changing(L, "remove_subsystem");
    std::string nqn = arg_string(L, 1, "nqn");
    Options o(L, 2, {"force"});
    value_or_raise(L, control.remove_subsystem(nqn, o.boolean("force").value_or(false)));
    return 0;
}

int l_allow_host(lua_State* L) {
    auto& control = changing(L, "allow_host");
    value_or_raise(L, control.allow_host(arg_string(L, 1, "nqn"), arg_string(L, 2, "host")));
    return 0;
}

int l_disallow_host(lua_State* L) {
    auto& control = changing(L, "disallow_host");
    value_or_raise(L, control.disallow_host(arg_string(L, 1, "nqn"), arg_string(L, 2, "host")));
    return 0;
}

int l_add_namespace(lua_State* L) {
    auto& control = changing(L, "add_namespace");
    std::string nqn = arg_string(L, 1, "nqn");
    if (!lua_istable(L, 2)) raise_invalid(L, "a namespace needs an options table with at least a backend", "options");
    Options o(L, 2, {"nsid", "backend", "params", "ana_group", "visible_to", "uuid", "nguid"});
    control::NamespaceSettings s;
    s.nsid = static_cast<uint32_t>(o.uint("nsid", 0xfffffffe).value_or(0));
    s.backend = o.string("backend").value_or("");
    for (auto& [k, v] : o.string_map("params")) s.params[k] = v;
    s.ana_group = static_cast<uint32_t>(o.uint("ana_group", 0xffffffff).value_or(1));
    s.visible_to = o.strings("visible_to");
    s.uuid = o.string("uuid").value_or("");
    s.nguid = o.string("nguid").value_or("");
    lua_pushinteger(L, value_or_raise(L, control.add_namespace(nqn, s)));
    return 1;
}

int l_remove_namespace(lua_State* L) {
    auto& control = changing(L, "remove_namespace");
    std::string nqn = arg_string(L, 1, "nqn");
    auto nsid = static_cast<uint32_t>(arg_uint(L, 2, "nsid", 0xffffffff));
    value_or_raise(L, control.remove_namespace(nqn, nsid));
    return 0;
}

int l_set_ana_state(lua_State* L) {
    auto& control = changing(L, "set_ana_state");
    auto port = static_cast<uint16_t>(arg_uint(L, 1, "port", 0xffff));
    auto group = static_cast<uint32_t>(arg_uint(L, 2, "group", 0xffffffff));
    auto state = target::parse_ana_state(arg_string(L, 3, "state"));
    if (!state)
        raise_invalid(L, "must be optimized, non-optimized, inaccessible, persistent-loss or change", "state");
    value_or_raise(L, control.set_ana_state(port, group, *state));
    return 0;
}

int l_add_ana_group(lua_State* L) {
    auto& control = changing(L, "add_ana_group");
    value_or_raise(L, control.add_ana_group(static_cast<uint32_t>(arg_uint(L, 1, "group", 0xffffffff))));
    return 0;
}

int l_link(lua_State* L) {
    auto& control = changing(L, "link");
    auto port = static_cast<uint16_t>(arg_uint(L, 1, "port", 0xffff));
    value_or_raise(L, control.link_subsystem(port, arg_string(L, 2, "nqn")));
    return 0;
}

int l_unlink(lua_State* L) {
    auto& control = changing(L, "unlink");
    auto port = static_cast<uint16_t>(arg_uint(L, 1, "port", 0xffff));
    std::string nqn = arg_string(L, 2, "nqn");
    Options o(L, 3, {"force"});
    value_or_raise(L, control.unlink_subsystem(port, nqn, o.boolean("force").value_or(false)));
    return 0;
}

// Every binding runs through here: its time is nvmfd's, not the script's
// (Sandbox::NativeTime). Lua errors unwind as C++ exceptions in this build,
// so the guard ends on every path.
int timed_binding(lua_State* L) {
    lua_CFunction fn = lua_tocfunction(L, lua_upvalueindex(1));
    Sandbox::NativeTime native(L);
    return fn(L);
}

constexpr std::array<luaL_Reg, 21> kFunctions{{
    {"log", l_log},
    {"error", l_error},
    {"state", l_state},
    {"controllers", l_controllers},
    {"kernel_drift", l_kernel_drift},
    {"add_subsystem", l_add_subsystem},
    {"remove_subsystem", l_remove_subsystem},
    {"allow_host", l_allow_host},
    {"disallow_host", l_disallow_host},
    {"add_namespace", l_add_namespace},
    {"remove_namespace", l_remove_namespace},
    {"set_ana_state", l_set_ana_state},
    {"add_ana_group", l_add_ana_group},
    {"link", l_link},
    {"unlink", l_unlink},
    {"every", l_every},
    {"after", l_after},
    {"probe", l_probe},
    {"watch_peer", l_watch_peer},
    {"draining", l_draining},
    {nullptr, nullptr},
}};

}  // namespace

void install_cancel_metatable(lua_State* L, const char* name, lua_CFunction cancel) {
    luaL_newmetatable(L, name);
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, cancel);
    lua_setfield(L, -2, "cancel");
    lua_setfield(L, -2, "__index");
    lua_pushstring(L, name);
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);
}

BindingContext& binding_context(lua_State* L) {
    BindingContext* ctx;
    std::memcpy(&ctx, lua_getextraspace(L), sizeof ctx);
    return *ctx;
}

void install_bindings(lua_State* L, BindingContext& ctx) {
    BindingContext* p = &ctx;
    std::memcpy(lua_getextraspace(L), &p, sizeof p);
    lua_createtable(L, 0, static_cast<int>(kFunctions.size()));
    for (const luaL_Reg& f : kFunctions) {
        if (!f.name) break;
        lua_pushcfunction(L, f.func);
        lua_pushcclosure(L, timed_binding, 1);
        lua_setfield(L, -2, f.name);
    }
    // What a dry run lists: whatever would change the target, start a timer or log.
    record_calls_of(L, {"log", "add_subsystem", "remove_subsystem", "allow_host", "disallow_host", "add_namespace",
                        "remove_namespace", "set_ana_state", "add_ana_group", "link", "unlink", "every", "after",
                        "probe", "watch_peer"});
    lua_createtable(L, 0, static_cast<int>(ctx.params.size()));
    for (const auto& [k, v] : ctx.params) {
        lua_pushlstring(L, v.data(), v.size());
        lua_setfield(L, -2, k.c_str());
    }
    lua_setfield(L, -2, "params");
    lua_setglobal(L, "nvmfd");
    install_timer_metatable(L);
    install_watch_metatable(L);
}

}  // namespace nvmfd::lua
