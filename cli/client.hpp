// nvmfctl's side of the bus: a connection to the system or session bus, the
// generated org.nvmfd.Manager1 proxy for changes, and one GetManagedObjects
// call to read the whole state. D-Bus errors become CommandError with text
// an admin can act on (the daemon's message, or what to check when the
// daemon is not there at all).
#pragma once

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>

#include <sdbus-c++/sdbus-c++.h>

#include "cli/model.hpp"
#include "dbus/generated/Manager1_proxy.h"

namespace nvmfd::cli {

// A call that failed: exit code 1. `name` is the D-Bus error name.
struct CommandError : std::runtime_error {
    CommandError(std::string name, const std::string& message, bool explained = false)
        : std::runtime_error(message), name(std::move(name)), explained(explained) {}
    std::string name;
    bool explained;  // the message says it all; the D-Bus name would be noise
};

enum class BusKind { System, Session };

class ManagerProxy final : public sdbus::ProxyInterfaces<org::nvmfd::Manager1_proxy> {
public:
    ManagerProxy(sdbus::IConnection& c, std::string service);
    ~ManagerProxy();

private:
    // nvmfctl calls methods only; it does not subscribe to signals.
    void onControllerConnected(const sdbus::ObjectPath&, const std::string&, const uint16_t&, const std::string&,
                               const uint16_t&) override {}
    void onControllerDisconnected(const sdbus::ObjectPath&, const std::string&, const uint16_t&, const std::string&,
                                  const uint16_t&) override {}
    void onAnaStateChanged(const uint16_t&, const uint32_t&, const std::string&) override {}
    void onHostRefused(const std::string&, const std::string&, const uint16_t&, const std::string&,
                       const std::string&) override {}
    void onNamespaceChanged(const sdbus::ObjectPath&, const std::string&, const uint32_t&, const std::string&) override {}
    void onPolicyError(const std::string&, const std::string&) override {}
};

class Client {
public:
    Client(BusKind bus, std::string service, std::chrono::seconds timeout);

    // Runs `call` against the Manager, translating D-Bus errors.
    template <typename F>
    auto call(F&& f) -> decltype(f(std::declval<ManagerProxy&>())) {
        try {
            return f(manager());
        } catch (const sdbus::Error& e) {
            throw translate(e);
        }
    }

    State read_state();
    const std::string& service() const { return service_; }
    const char* bus_name() const { return bus_ == BusKind::System ? "system" : "session"; }

private:
    ManagerProxy& manager();
    sdbus::IConnection& connection();
    CommandError translate(const sdbus::Error& e);
    CommandError access_denied(const sdbus::Error& e);

    BusKind bus_;
    std::string service_;
    std::chrono::seconds timeout_;
    std::unique_ptr<sdbus::IConnection> connection_;
    std::unique_ptr<ManagerProxy> manager_;
};

}  // namespace nvmfd::cli
