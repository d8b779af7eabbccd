#include "lua/events.hpp"

namespace nvmfd::lua {
namespace {

using K = control::EventKind;

void set_string(lua_State* L, const char* key, const std::string& value) {
    lua_pushlstring(L, value.data(), value.size());
    lua_setfield(L, -2, key);
}

void set_integer(lua_State* L, const char* key, lua_Integer value) {
    lua_pushinteger(L, value);
    lua_setfield(L, -2, key);
}

const char* change_of(const control::Event& e);

void set_change(lua_State* L, const control::Event& e) {
    lua_pushstring(L, change_of(e));
    lua_setfield(L, -2, "change");
}

const char* change_of(const control::Event& e) {
    switch (e.kind) {
    case K::SubsystemAdded:
    case K::NamespaceAdded:
    case K::PortAdded: return "added";
    case K::SubsystemRemoved:
    case K::NamespaceRemoved:
    case K::PortRemoved: return "removed";
    case K::NamespaceChanged:
    case K::PortChanged: return e.detail.empty() ? "changed" : e.detail.c_str();  // "up"/"down" for a port
    default: return "changed";
    }
}

}  // namespace

const char* handler_for(control::EventKind kind) {
    switch (kind) {
    case K::ControllerConnected: return "on_controller_connect";
    case K::ControllerDisconnected: return "on_controller_disconnect";
    case K::SubsystemAdded:
    case K::SubsystemRemoved:
    case K::SubsystemChanged: return "on_subsystem_change";
    case K::NamespaceAdded:
    case K::NamespaceRemoved:
    case K::NamespaceChanged: return "on_namespace_change";
    case K::PortAdded:
    case K::PortRemoved:
    case K::PortChanged: return "on_port_change";
    case K::AnaStateChanged: return "on_ana_change";
    case K::HostRefused: return nullptr;  // D-Bus's; policies decide admissions through on_host_connect
    }
    return nullptr;
}

void push_event_info(lua_State* L, const control::Event& e) {
    lua_createtable(L, 0, 4);
    switch (e.kind) {
    case K::ControllerConnected:
    case K::ControllerDisconnected:
        set_string(L, "subsystem", e.subsystem);
        set_integer(L, "cntlid", e.cntlid);
        set_string(L, "host", e.detail);
        set_integer(L, "port", e.port);
        if (e.kind == K::ControllerDisconnected) set_string(L, "reason", e.reason);
        break;
    case K::SubsystemAdded:
    case K::SubsystemRemoved:
    case K::SubsystemChanged:
        set_string(L, "subsystem", e.subsystem);
        set_change(L, e);
        if (!e.detail.empty()) set_string(L, "host", e.detail);  // allowed or disallowed
        break;
    case K::NamespaceAdded:
    case K::NamespaceRemoved:
    case K::NamespaceChanged:
        set_string(L, "subsystem", e.subsystem);
        set_integer(L, "nsid", e.nsid);
        set_change(L, e);
        if (e.ana_group) set_integer(L, "ana_group", e.ana_group);
        if (e.detail == "health") set_integer(L, "critical_warning", e.critical_warning);
        break;
    case K::PortAdded:
    case K::PortRemoved:
    case K::PortChanged:
        set_integer(L, "port", e.port);
        set_change(L, e);
        if (!e.subsystem.empty()) set_string(L, "subsystem", e.subsystem);  // linked or unlinked
        if (!e.reason.empty()) set_string(L, "reason", e.reason);           // why it went down
        break;
    case K::AnaStateChanged:
        set_integer(L, "port", e.port);
        set_integer(L, "group", e.ana_group);
        set_string(L, "state", e.detail);
        break;
    case K::HostRefused:
        break;
    }
}

}  // namespace nvmfd::lua
