#include "dbus/service.hpp"

#include <sdbus-c++/sdbus-c++.h>

#include "core/runtime/log.hpp"
#include "dbus/access.hpp"
#include "dbus/asio_bus_loop.hpp"
#include "dbus/manager.hpp"
#include "dbus/names.hpp"
#include "dbus/object_tree.hpp"

namespace nvmfd::dbus {

const char* bus_name(Bus bus) { return bus == Bus::System ? "system" : "session"; }

struct Service::Impl {
    Impl(boost::asio::io_context& io, control::Control& control, const ServiceOptions& o,
         std::unique_ptr<sdbus::IConnection> conn)
        : control(control),
          options(o),
          connection(std::move(conn)),
          access(*connection, o.admin_group),
          manager(*connection, control, access,
                  ManagerInfo{o.version, o.state_file ? o.state_file->string() : std::string(), o.policies}, [this] { sync(); }),
          tree(*connection, control, manager),
          loop(io, *connection, o.on_connection_lost) {}

    // Follow the control state. Never throws: the change it follows has
    // been made and acknowledged already.
    void sync() {
        try {
            tree.sync();
        } catch (const std::exception& e) {
            log::error("D-Bus: could not update the exported objects: {}", e.what());
        }
    }

    void on_event(const control::Event& e) {
        // A refusal changes no object: no need to compare the tree.
        if (e.kind != control::EventKind::HostRefused) sync();
        try {
            emit_signal(e);
        } catch (const std::exception& ex) {
            log::error("D-Bus: could not emit a signal: {}", ex.what());
        }
        // Events from hosts arrive outside a D-Bus dispatch: flush.
        loop.kick();
    }

    void emit_signal(const control::Event& e) {
        using K = control::EventKind;
        switch (e.kind) {
        case K::NamespaceAdded:
        case K::NamespaceRemoved:
        case K::NamespaceChanged: {
            std::string change = e.kind == K::NamespaceAdded     ? "added"
                                 : e.kind == K::NamespaceRemoved ? "removed"
                                 : e.detail.empty()              ? "changed"
                                                                 : e.detail;
            manager.emitNamespaceChanged(sdbus::ObjectPath(namespace_path(e.subsystem, e.nsid)), e.subsystem, e.nsid,
                                         change);
            break;
        }
        case K::AnaStateChanged:
            manager.emitAnaStateChanged(e.port, e.ana_group, e.detail);
            break;
        case K::ControllerConnected:
            manager.emitControllerConnected(sdbus::ObjectPath(controller_path(e.subsystem, e.cntlid)), e.subsystem,
                                            e.cntlid, e.detail, e.port);
            break;
        case K::ControllerDisconnected:
            manager.emitControllerDisconnected(sdbus::ObjectPath(controller_path(e.subsystem, e.cntlid)),
                                               e.subsystem, e.cntlid, e.detail, e.port);
            break;
        case K::HostRefused:
            manager.emitHostRefused(e.detail, e.subsystem, e.port, e.address, e.reason);
            break;
        default:
            break;  // the object tree's InterfacesAdded/Removed and PropertiesChanged tell these
        }
    }

    control::Control& control;
    ServiceOptions options;
    std::unique_ptr<sdbus::IConnection> connection;
    AdminAccess access;
    ManagerObject manager;
    ObjectTree tree;
    AsioBusLoop loop;
    // Control keeps its listeners for its whole life; this tells the one
    // registered here that the service is gone.
    std::shared_ptr<Impl*> alive = std::make_shared<Impl*>(this);
};

Result<std::unique_ptr<Service>> Service::start(boost::asio::io_context& io, control::Control& control,
                                                const ServiceOptions& o) {
    std::unique_ptr<sdbus::IConnection> conn;
    try {
        conn = o.bus == Bus::System ? sdbus::createSystemBusConnection() : sdbus::createSessionBusConnection();
    } catch (const sdbus::Error& e) {
        return make_error(ErrorCode::Io, fmt::format("cannot connect to the D-Bus {} bus: {}", bus_name(o.bus),
                                                     e.getMessage()));
    }
    std::unique_ptr<Impl> impl;
    try {
        impl = std::make_unique<Impl>(io, control, o, std::move(conn));
        impl->tree.sync();
        impl->connection->requestName(o.name);
    } catch (const sdbus::Error& e) {
        bool taken = e.getName() == "org.freedesktop.DBus.Error.FileExists";
        return make_error(taken ? ErrorCode::AlreadyExists : ErrorCode::PermissionDenied,
                          fmt::format("cannot own the name {} on the D-Bus {} bus: {}{}", o.name, bus_name(o.bus),
                                      e.getMessage(),
                                      taken ? " (is another nvmfd running?)"
                                            : o.bus == Bus::System
                                                  ? " (is systemd/org.nvmfd.conf installed in /usr/share/dbus-1/system.d?)"
                                                  : ""),
                          "dbus-name");
    }
    std::weak_ptr<Impl*> alive = impl->alive;
    control.add_listener([alive](const control::Event& e) {
        if (auto p = alive.lock()) (*p)->on_event(e);
    });
    impl->loop.start();
    log::info("D-Bus: serving {} on the {} bus", o.name, bus_name(o.bus));
    return std::unique_ptr<Service>(new Service(std::move(impl)));
}

Service::Service(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Service::~Service() {
    try {
        impl_->connection->releaseName(impl_->options.name);
    } catch (const sdbus::Error&) {
        // Gone with the bus.
    }
}

void Service::emit_policy_error(const std::string& policy, const std::string& message) {
    try {
        impl_->manager.emitPolicyError(policy, message);
    } catch (const sdbus::Error& e) {
        log::error("D-Bus: could not emit PolicyError: {}", e.getMessage());
    }
    impl_->loop.kick();
}

}  // namespace nvmfd::dbus
