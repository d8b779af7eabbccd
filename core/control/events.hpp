// Events the control plane emits after a change took effect: the D-Bus
// service turns them into signals, the Lua engine into policy callbacks.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace nvmfd::control {

enum class EventKind {
    SubsystemAdded,
    SubsystemRemoved,
    SubsystemChanged,
    NamespaceAdded,
    NamespaceRemoved,
    NamespaceChanged,
    PortAdded,
    PortRemoved,
    PortChanged,
    AnaStateChanged,
    ControllerConnected,
    ControllerDisconnected,
    HostRefused,  // an admin-queue Connect was refused (D-Bus only; no Lua handler)
};

struct Event {
    EventKind kind;
    std::string subsystem;  // NQN, when about a subsystem or its namespaces
    uint32_t nsid = 0;
    uint16_t port = 0;
    uint32_t ana_group = 0;
    uint16_t cntlid = 0;
    std::string detail;     // e.g. the new ANA state, a host NQN; for NamespaceChanged
                            // what changed: "resized", "visibility", "ana-group" or "health"
    // (Initialized here so that aggregate initializations that stop at
    // `detail` stay warning-free.)
    std::string address{};  // HostRefused: the host's transport address
    std::string reason{};   // HostRefused: why (as in the log line); ControllerDisconnected:
                            // why the association ended ("keep-alive timeout", ...)
    uint8_t critical_warning = 0;  // NamespaceChanged "health": the device's SMART critical warning bits
};

using EventListener = std::function<void(const Event&)>;

}  // namespace nvmfd::control
