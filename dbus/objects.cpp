#include "dbus/objects.hpp"

namespace nvmfd::dbus {
namespace {

// Appends `name` when the property's value differs.
template <typename T>
void note(std::vector<std::string>& changed, const char* name, const T& before, const T& after) {
    if (!(before == after)) changed.emplace_back(name);
}

}  // namespace

void SubsystemObject::update(SubsystemState n) {
    std::vector<std::string> c;
    note(c, "DataPath", s_.data_path, n.data_path);  // fixed once made, but a restore may bring another
    note(c, "PassthruDevice", s_.passthru_device, n.passthru_device);
    note(c, "Serial", s_.serial, n.serial);
    note(c, "Model", s_.model, n.model);
    note(c, "AllowAnyHost", s_.allow_any_host, n.allow_any_host);
    note(c, "Hosts", s_.hosts, n.hosts);
    note(c, "MaxNamespaces", s_.max_namespaces, n.max_namespaces);
    note(c, "MinCntlid", s_.min_cntlid, n.min_cntlid);
    note(c, "MaxCntlid", s_.max_cntlid, n.max_cntlid);
    note(c, "Namespaces", s_.namespaces, n.namespaces);
    note(c, "Ports", s_.ports, n.ports);
    s_ = std::move(n);
    emit_changes(c);
}

void NamespaceObject::update(NamespaceState n) {
    std::vector<std::string> c;
    note(c, "Backend", s_.backend, n.backend);
    note(c, "Params", s_.params, n.params);
    note(c, "Uuid", s_.uuid, n.uuid);
    note(c, "Nguid", s_.nguid, n.nguid);
    note(c, "AnaGroup", s_.ana_group, n.ana_group);
    note(c, "VisibleTo", s_.visible_to, n.visible_to);
    note(c, "SizeBytes", s_.size_bytes, n.size_bytes);
    note(c, "Online", s_.online, n.online);
    note(c, "OfflineReason", s_.offline_reason, n.offline_reason);
    s_ = std::move(n);
    emit_changes(c);
}

target::NamespaceStats NamespaceObject::stats() const {
    auto st = control_.namespace_stats(s_.subsystem, s_.nsid);
    return st ? *st : target::NamespaceStats{};  // offline: nothing counted
}

void PortObject::update(PortState n) {
    std::vector<std::string> c;
    note(c, "DataPath", s_.data_path, n.data_path);
    note(c, "Transport", s_.transport, n.transport);
    note(c, "Family", s_.family, n.family);
    note(c, "Address", s_.address, n.address);
    note(c, "Service", s_.service, n.service);
    note(c, "Params", s_.params, n.params);
    note(c, "Subsystems", s_.subsystems, n.subsystems);
    note(c, "AnaStates", s_.ana_states, n.ana_states);
    note(c, "SecureChannel", s_.secure_channel, n.secure_channel);
    note(c, "Online", s_.online, n.online);
    note(c, "OfflineReason", s_.offline_reason, n.offline_reason);
    s_ = std::move(n);
    emit_changes(c);
}

target::ControllerInfo ControllerObject::live() const {
    for (auto& info : control_.controllers())
        if (info.identity.cntlid == s_.cntlid && info.identity.subnqn == s_.subsystem) return info;
    return {};  // gone a moment ago; the object goes at the next sync
}

}  // namespace nvmfd::dbus
