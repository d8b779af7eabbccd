#include "cli/client.hpp"

#include <regex>

#include <fmt/format.h>

#include "dbus/names.hpp"

namespace nvmfd::cli {

ManagerProxy::ManagerProxy(sdbus::IConnection& c, std::string service)
    : ProxyInterfaces(c, std::move(service), dbus::kRootPath) {
    // No registerProxy(): that would subscribe to the Manager's signals,
    // which a one-shot command does not read.
}

ManagerProxy::~ManagerProxy() = default;

Client::Client(BusKind bus, std::string service, std::chrono::seconds timeout)
    : bus_(bus), service_(std::move(service)), timeout_(timeout) {}

sdbus::IConnection& Client::connection() {
    if (!connection_) {
        try {
            connection_ = bus_ == BusKind::System ? sdbus::createSystemBusConnection() : sdbus::createSessionBusConnection();
        } catch (const sdbus::Error& e) {
            throw CommandError(e.getName(),
                               fmt::format("cannot connect to the D-Bus {} bus: {}{}", bus_name(), e.getMessage(),
                                           bus_ == BusKind::Session ? " (is DBUS_SESSION_BUS_ADDRESS set?)" : ""),
                               true);
        }
        // Some changes wait for in-flight I/O to drain; D-Bus's default 25 s may be too short.
        connection_->setMethodCallTimeout(timeout_);
    }
    return *connection_;
}

ManagerProxy& Client::manager() {
    if (!manager_) manager_ = std::make_unique<ManagerProxy>(connection(), service_);
    return *manager_;
}

CommandError Client::translate(const sdbus::Error& e) {
    const std::string& name = e.getName();
    if (name.starts_with(dbus::kErrorPrefix)) return CommandError(name, e.getMessage());
    if (name == "org.freedesktop.DBus.Error.ServiceUnknown" || name == "org.freedesktop.DBus.Error.NameHasNoOwner")
        return CommandError(name, fmt::format("nvmfd is not running on the {} bus (nobody owns {}){}", bus_name(),
                                              service_, bus_ == BusKind::System ? "; try: systemctl start nvmfd" : ""),
                            true);
    if (name == "org.freedesktop.DBus.Error.AccessDenied") return access_denied(e);
    if (name == "org.freedesktop.DBus.Error.NoReply" || name == "org.freedesktop.DBus.Error.Timeout" ||
        name == "org.freedesktop.DBus.Error.TimedOut")
        return CommandError(name, fmt::format("nvmfd did not answer within {} s ({}); raise --timeout or look at "
                                              "the daemon's log",
                                              timeout_.count(), e.getMessage()),
                            true);
    return CommandError(name, e.getMessage());
}

// dbus-daemon's own text lists the rules it matched; what the user needs is
// which call was refused and who may make it. Reading is open to everyone,
// so the admin group comes from nvmfd itself.
CommandError Client::access_denied(const sdbus::Error& e) {
    static const std::regex kMember(R"re(member="([^"]+)")re");
    std::smatch m;
    const std::string& text = e.getMessage();
    std::string call = std::regex_search(text, m, kMember) ? m[1].str() : "the call";
    std::string group;
    try {
        group = manager().AdminGroup();
    } catch (const sdbus::Error&) {
    }
    std::string who = group.empty() ? "root or nvmfd's admin group"
                                    : fmt::format("root or membership in group {} (usermod -aG {} USER)", group, group);
    return CommandError(e.getName(), fmt::format("the D-Bus policy refused {}: changes need {}", call, who), true);
}

State Client::read_state() {
    try {
        auto root = sdbus::createProxy(connection(), service_, dbus::kRootPath);
        Properties manager;
        root->callMethod("GetAll").onInterface("org.freedesktop.DBus.Properties").withArguments(std::string(dbus::kManagerInterface)).storeResultsTo(manager);
        ManagedObjects objects;
        root->callMethod("GetManagedObjects").onInterface("org.freedesktop.DBus.ObjectManager").storeResultsTo(objects);
        return build_state(manager, objects);
    } catch (const sdbus::Error& e) {
        throw translate(e);
    }
}

}  // namespace nvmfd::cli
