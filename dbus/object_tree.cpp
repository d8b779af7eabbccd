#include "dbus/object_tree.hpp"

#include <algorithm>

#include "core/control/data_path.hpp"
#include "core/control/secure_channel.hpp"
#include "core/runtime/untrusted_text.hpp"
#include "core/target/ana.hpp"
#include "core/target/identifiers.hpp"
#include "dbus/names.hpp"

namespace nvmfd::dbus {
namespace {

template <typename Key, typename Obj, typename State>
void remove_gone(std::map<Key, std::unique_ptr<Obj>>& live, const std::map<Key, State>& wanted) {
    std::erase_if(live, [&](const auto& item) { return !wanted.contains(item.first); });
}

// Creates what is new and updates what is there. `make` builds an object.
template <typename Key, typename Obj, typename State, typename Make>
void add_or_update(std::map<Key, std::unique_ptr<Obj>>& live, std::map<Key, State>& wanted, Make make) {
    for (auto& [key, state] : wanted) {
        auto it = live.find(key);
        if (it != live.end()) {
            it->second->update(std::move(state));
            continue;
        }
        auto obj = make(key, std::move(state));
        obj->announce();
        live.emplace(key, std::move(obj));
    }
}

std::map<std::string, std::string> to_map(const plugin::Params& p) { return {p.begin(), p.end()}; }

}  // namespace

ObjectTree::ObjectTree(sdbus::IConnection& connection, control::Control& control, ManagerObject& manager)
    : connection_(connection), control_(control), manager_(manager) {}

ObjectTree::~ObjectTree() {
    // Children before parents, as sync() removes them.
    controllers_.clear();
    namespaces_.clear();
    ports_.clear();
    subsystems_.clear();
}

void ObjectTree::sync() {
    const control::ExportSpec spec = control_.export_spec();
    const auto offline = control_.offline();
    const auto controllers = control_.controllers();

    std::map<NsKey, std::string> ns_offline;
    std::map<uint16_t, std::string> port_offline;
    std::vector<sdbus::Struct<std::string, std::string>> offline_list;
    for (const auto& o : offline) {
        offline_list.emplace_back(o.what, o.reason);
        if (o.nsid) ns_offline[{o.subsystem, o.nsid}] = o.reason;
        else if (o.port) port_offline[o.port] = o.reason;
    }
    manager_.update(spec.ana_groups, std::move(offline_list), control_.kernel_drift());

    std::map<std::string, SubsystemState> subsystems;
    std::map<NsKey, NamespaceState> namespaces;
    for (const auto& s : spec.subsystems) {
        SubsystemState st{s.nqn,        control::data_path_name(s.data_path), s.passthru_device, s.serial,
                          s.model,      s.allow_any_host, s.hosts, s.max_namespaces, s.min_cntlid, s.max_cntlid,
                          {},           {}};
        for (const auto& p : spec.ports)
            if (std::binary_search(p.subsystems.begin(), p.subsystems.end(), s.nqn)) st.ports.push_back(p.id);
        for (const auto& ns : s.namespaces) {
            st.namespaces.push_back(ns.nsid);
            NamespaceState n;
            n.subsystem = s.nqn;
            n.nsid = ns.nsid;
            n.backend = ns.backend;
            n.params = to_map(ns.params);
            n.uuid = ns.uuid;
            n.nguid = ns.nguid;
            n.ana_group = ns.ana_group;
            n.visible_to = ns.visible_to;
            auto off = ns_offline.find({s.nqn, ns.nsid});
            n.online = off == ns_offline.end();
            if (!n.online) n.offline_reason = off->second;
            auto size = control_.namespace_size(s.nqn, ns.nsid);
            n.size_bytes = size ? *size : 0;
            namespaces.emplace(NsKey{s.nqn, ns.nsid}, std::move(n));
        }
        subsystems.emplace(s.nqn, std::move(st));
    }

    std::map<uint16_t, PortState> ports;
    for (const auto& p : spec.ports) {
        PortState st{p.id,         p.transport, p.family, p.address, p.service, to_map(p.params),
                     p.subsystems, {},          true,     {},        control::secure_channel_name(p.secure_channel),
                     control::data_path_name(p.data_path)};
        for (uint32_t g : spec.ana_groups) {
            auto it = p.ana_states.find(g);
            st.ana_states.emplace_back(
                g, target::ana_state_name(it == p.ana_states.end() ? proto::AnaState::Optimized : it->second));
        }
        if (auto off = port_offline.find(p.id); off != port_offline.end()) {
            st.online = false;
            st.offline_reason = off->second;
        }
        ports.emplace(p.id, std::move(st));
    }

    std::map<CtrlKey, ControllerState> ctrls;
    for (const auto& c : controllers) {
        const auto& id = c.identity;
        // Hosts chose these strings; Connect only admits printable UTF-8,
        // and escaping again keeps one bad string from failing the export of
        // every controller (D-Bus refuses invalid UTF-8).
        ctrls.emplace(CtrlKey{id.subnqn, id.cntlid},
                      ControllerState{runtime::escape_untrusted(id.subnqn), id.cntlid,
                                      runtime::escape_untrusted(id.hostnqn), target::format_uuid(id.hostid),
                                      c.host_address, id.port_id, id.discovery});
    }
    // A controller ID reused by a new association between two syncs is a
    // new object: its properties are constant.
    std::erase_if(controllers_, [&](const auto& item) {
        auto it = ctrls.find(item.first);
        return it == ctrls.end() || !(it->second == item.second->state());
    });
    remove_gone(namespaces_, namespaces);
    remove_gone(subsystems_, subsystems);
    remove_gone(ports_, ports);

    add_or_update(subsystems_, subsystems, [&](const std::string& nqn, SubsystemState st) {
        return std::make_unique<SubsystemObject>(connection_, subsystem_path(nqn), std::move(st));
    });
    add_or_update(namespaces_, namespaces, [&](const NsKey& k, NamespaceState st) {
        return std::make_unique<NamespaceObject>(connection_, namespace_path(k.first, k.second), std::move(st),
                                                 control_);
    });
    add_or_update(ports_, ports, [&](uint16_t id, PortState st) {
        return std::make_unique<PortObject>(connection_, port_path(id), std::move(st));
    });
    for (auto& [key, st] : ctrls) {
        if (controllers_.contains(key)) continue;
        auto obj = std::make_unique<ControllerObject>(connection_, controller_path(key.first, key.second),
                                                      std::move(st), control_);
        obj->announce();
        controllers_.emplace(key, std::move(obj));
    }
}

}  // namespace nvmfd::dbus
