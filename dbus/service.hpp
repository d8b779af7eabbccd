// nvmfd's D-Bus service: owns the bus connection, the Manager object, the
// object tree and the event-to-signal bridge, all driven by the control
// thread's io_context. The daemon creates it after the exports are restored
// and destroys it before shutting the target down.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>

#include "core/control/control.hpp"
#include "core/control/policy_service.hpp"

namespace nvmfd::dbus {

enum class Bus { System, Session };

struct ServiceOptions {
    Bus bus = Bus::System;
    std::string name = "org.nvmfd";
    std::string admin_group;
    std::string version;
    std::optional<std::filesystem::path> state_file;
    control::PolicyService* policies = nullptr;  // the Lua engine, when the daemon runs one
    // Called on the io_context (never inside a D-Bus dispatch) when the bus
    // connection is lost; the owner may destroy the service then. Unset:
    // the loss is only logged.
    std::function<void(const std::string& why)> on_connection_lost;
};

class Service {
public:
    // Connects, exports the objects, then takes the bus name, so a client
    // that sees the name finds the whole tree. Errors: Io when the bus
    // cannot be reached, AlreadyExists/PermissionDenied for the name.
    static Result<std::unique_ptr<Service>> start(boost::asio::io_context& io, control::Control& control,
                                                  const ServiceOptions& options);
    ~Service();

    // For the policy engine: a script failed (the daemon keeps serving).
    void emit_policy_error(const std::string& policy, const std::string& message);

    struct Impl;

private:
    explicit Service(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

const char* bus_name(Bus bus);  // "system" / "session", for messages

}  // namespace nvmfd::dbus
