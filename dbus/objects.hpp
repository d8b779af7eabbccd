// The exported objects below /org/nvmfd: a subsystem, a namespace, a port, a
// connected controller. Each holds the values its properties show (taken
// from the control state by ObjectTree::sync) and, when they change, emits
// PropertiesChanged for exactly the properties that differ. Counters and
// other fast-moving values are read from the control API when asked and are
// documented as not emitting change signals.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <sdbus-c++/sdbus-c++.h>

#include "core/control/control.hpp"
#include "dbus/generated/Controller1_adaptor.h"
#include "dbus/generated/Namespace1_adaptor.h"
#include "dbus/generated/Port1_adaptor.h"
#include "dbus/generated/Subsystem1_adaptor.h"

namespace nvmfd::dbus {

struct SubsystemState {
    std::string nqn, data_path, passthru_device, serial, model;
    bool allow_any_host = false;
    std::vector<std::string> hosts;
    uint32_t max_namespaces = 0;
    uint16_t min_cntlid = 0;
    uint16_t max_cntlid = 0;
    std::vector<uint32_t> namespaces;
    std::vector<uint16_t> ports;
};

struct NamespaceState {
    std::string subsystem;
    uint32_t nsid = 0;
    std::string backend;
    std::map<std::string, std::string> params;
    std::string uuid, nguid;
    uint32_t ana_group = 1;
    std::vector<std::string> visible_to;
    uint64_t size_bytes = 0;
    bool online = false;
    std::string offline_reason;
};

struct PortState {
    uint16_t id = 0;
    std::string transport, family, address, service;
    std::map<std::string, std::string> params;
    std::vector<std::string> subsystems;
    std::vector<sdbus::Struct<uint32_t, std::string>> ana_states;  // by group
    bool online = false;
    std::string offline_reason;
    std::string secure_channel = "none";
    std::string data_path = "nvmfd";
};

struct ControllerState {
    std::string subsystem;
    uint16_t cntlid = 0;
    std::string host_nqn, host_id, host_address;
    uint16_t port = 0;
    bool discovery = false;
    bool operator==(const ControllerState&) const = default;
};

// Registers the object on construction, announces it (InterfacesAdded) with
// announce(), and withdraws it (InterfacesRemoved) on destruction.
template <typename Adaptor, typename State>
class ExportedObject : public sdbus::AdaptorInterfaces<Adaptor> {
public:
    ExportedObject(sdbus::IConnection& c, std::string path, State s)
        : sdbus::AdaptorInterfaces<Adaptor>(c, std::move(path)), s_(std::move(s)) {}
    ~ExportedObject() {
        try {
            this->getObject().emitInterfacesRemovedSignal({Adaptor::INTERFACE_NAME});
        } catch (const sdbus::Error&) {
            // The bus is gone; nobody is left to tell.
        }
        this->unregisterAdaptor();
    }
    void announce() {
        this->registerAdaptor();
        this->getObject().emitInterfacesAddedSignal({Adaptor::INTERFACE_NAME});
    }
    const State& state() const { return s_; }

protected:
    void emit_changes(const std::vector<std::string>& names) {
        if (!names.empty()) this->getObject().emitPropertiesChangedSignal(Adaptor::INTERFACE_NAME, names);
    }
    State s_;
};

class SubsystemObject final : public ExportedObject<org::nvmfd::Subsystem1_adaptor, SubsystemState> {
public:
    using ExportedObject::ExportedObject;
    void update(SubsystemState next);

private:
    std::string Nqn() override { return s_.nqn; }
    std::string DataPath() override { return s_.data_path; }
    std::string PassthruDevice() override { return s_.passthru_device; }
    std::string Serial() override { return s_.serial; }
    std::string Model() override { return s_.model; }
    bool AllowAnyHost() override { return s_.allow_any_host; }
    std::vector<std::string> Hosts() override { return s_.hosts; }
    uint32_t MaxNamespaces() override { return s_.max_namespaces; }
    uint16_t MinCntlid() override { return s_.min_cntlid; }
    uint16_t MaxCntlid() override { return s_.max_cntlid; }
    std::vector<uint32_t> Namespaces() override { return s_.namespaces; }
    std::vector<uint16_t> Ports() override { return s_.ports; }
};

class NamespaceObject final : public ExportedObject<org::nvmfd::Namespace1_adaptor, NamespaceState> {
public:
    NamespaceObject(sdbus::IConnection& c, std::string path, NamespaceState s, const control::Control& control)
        : ExportedObject(c, std::move(path), std::move(s)), control_(control) {}
    void update(NamespaceState next);

private:
    std::string Subsystem() override { return s_.subsystem; }
    uint32_t Nsid() override { return s_.nsid; }
    std::string Backend() override { return s_.backend; }
    std::map<std::string, std::string> Params() override { return s_.params; }
    std::string Uuid() override { return s_.uuid; }
    std::string Nguid() override { return s_.nguid; }
    uint32_t AnaGroup() override { return s_.ana_group; }
    std::vector<std::string> VisibleTo() override { return s_.visible_to; }
    uint64_t SizeBytes() override { return s_.size_bytes; }
    bool Online() override { return s_.online; }
    std::string OfflineReason() override { return s_.offline_reason; }
    uint64_t ReadCommands() override { return stats().read_commands; }
    uint64_t WriteCommands() override { return stats().write_commands; }
    uint64_t ReadBytes() override { return stats().read_bytes; }
    uint64_t WriteBytes() override { return stats().write_bytes; }
    uint64_t Errors() override { return stats().errors; }
    target::NamespaceStats stats() const;

    const control::Control& control_;
};

class PortObject final : public ExportedObject<org::nvmfd::Port1_adaptor, PortState> {
public:
    using ExportedObject::ExportedObject;
    void update(PortState next);

private:
    uint16_t Id() override { return s_.id; }
    std::string Transport() override { return s_.transport; }
    std::string Family() override { return s_.family; }
    std::string Address() override { return s_.address; }
    std::string Service() override { return s_.service; }
    std::map<std::string, std::string> Params() override { return s_.params; }
    std::vector<std::string> Subsystems() override { return s_.subsystems; }
    std::vector<sdbus::Struct<uint32_t, std::string>> AnaStates() override { return s_.ana_states; }
    bool Online() override { return s_.online; }
    std::string OfflineReason() override { return s_.offline_reason; }
    std::string SecureChannel() override { return s_.secure_channel; }
    std::string DataPath() override { return s_.data_path; }
};

class ControllerObject final : public ExportedObject<org::nvmfd::Controller1_adaptor, ControllerState> {
public:
    ControllerObject(sdbus::IConnection& c, std::string path, ControllerState s, const control::Control& control)
        : ExportedObject(c, std::move(path), std::move(s)), control_(control) {}

private:
    std::string Subsystem() override { return s_.subsystem; }
    uint16_t Cntlid() override { return s_.cntlid; }
    std::string HostNqn() override { return s_.host_nqn; }
    std::string HostId() override { return s_.host_id; }
    std::string HostAddress() override { return s_.host_address; }
    uint16_t Port() override { return s_.port; }
    bool Discovery() override { return s_.discovery; }
    uint32_t KeepAliveTimeoutMs() override { return live().kato_ms; }
    uint16_t IoQueues() override { return live().io_queues; }
    bool Enabled() override { return live().enabled; }
    target::ControllerInfo live() const;

    const control::Control& control_;
};

}  // namespace nvmfd::dbus
