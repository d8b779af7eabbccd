#include "cli/model.hpp"

#include <algorithm>
#include <tuple>

#include "dbus/names.hpp"

namespace nvmfd::cli {
namespace {

// A property's value, or the default when an older daemon lacks it.
template <typename T>
T get(const Properties& p, const char* name) {
    auto it = p.find(name);
    if (it == p.end()) return T{};
    return it->second.get<T>();
}

// A data path property: nvmfd from a daemon that predates kernel-served exports.
std::string data_path(const Properties& p) {
    auto name = get<std::string>(p, "DataPath");
    return name.empty() ? "nvmfd" : name;
}

NamespaceInfo read_namespace(const Properties& p) {
    NamespaceInfo n;
    n.subsystem = get<std::string>(p, "Subsystem");
    n.nsid = get<uint32_t>(p, "Nsid");
    n.backend = get<std::string>(p, "Backend");
    n.params = get<std::map<std::string, std::string>>(p, "Params");
    n.uuid = get<std::string>(p, "Uuid");
    n.nguid = get<std::string>(p, "Nguid");
    n.ana_group = get<uint32_t>(p, "AnaGroup");
    n.visible_to = get<std::vector<std::string>>(p, "VisibleTo");
    n.size_bytes = get<uint64_t>(p, "SizeBytes");
    n.online = get<bool>(p, "Online");
    n.offline_reason = get<std::string>(p, "OfflineReason");
    n.read_commands = get<uint64_t>(p, "ReadCommands");
    n.write_commands = get<uint64_t>(p, "WriteCommands");
    n.read_bytes = get<uint64_t>(p, "ReadBytes");
    n.write_bytes = get<uint64_t>(p, "WriteBytes");
    n.errors = get<uint64_t>(p, "Errors");
    return n;
}

SubsystemInfo read_subsystem(const Properties& p) {
    SubsystemInfo s;
    s.nqn = get<std::string>(p, "Nqn");
    s.data_path = data_path(p);
    s.passthru_device = get<std::string>(p, "PassthruDevice");
    s.serial = get<std::string>(p, "Serial");
    s.model = get<std::string>(p, "Model");
    s.allow_any_host = get<bool>(p, "AllowAnyHost");
    s.hosts = get<std::vector<std::string>>(p, "Hosts");
    s.max_namespaces = get<uint32_t>(p, "MaxNamespaces");
    s.min_cntlid = get<uint16_t>(p, "MinCntlid");
    s.max_cntlid = get<uint16_t>(p, "MaxCntlid");
    s.ports = get<std::vector<uint16_t>>(p, "Ports");
    return s;
}

PortInfo read_port(const Properties& p) {
    PortInfo x;
    x.id = get<uint16_t>(p, "Id");
    x.data_path = data_path(p);
    x.transport = get<std::string>(p, "Transport");
    x.family = get<std::string>(p, "Family");
    x.address = get<std::string>(p, "Address");
    x.service = get<std::string>(p, "Service");
    x.params = get<std::map<std::string, std::string>>(p, "Params");
    x.subsystems = get<std::vector<std::string>>(p, "Subsystems");
    for (auto& gs : get<std::vector<sdbus::Struct<uint32_t, std::string>>>(p, "AnaStates"))
        x.ana_states[gs.get<0>()] = gs.get<1>();
    x.secure_channel = get<std::string>(p, "SecureChannel");
    x.online = get<bool>(p, "Online");
    x.offline_reason = get<std::string>(p, "OfflineReason");
    return x;
}

ControllerInfo read_controller(const Properties& p) {
    ControllerInfo c;
    c.subsystem = get<std::string>(p, "Subsystem");
    c.cntlid = get<uint16_t>(p, "Cntlid");
    c.host_nqn = get<std::string>(p, "HostNqn");
    c.host_id = get<std::string>(p, "HostId");
    c.host_address = get<std::string>(p, "HostAddress");
    c.port = get<uint16_t>(p, "Port");
    c.discovery = get<bool>(p, "Discovery");
    c.kato_ms = get<uint32_t>(p, "KeepAliveTimeoutMs");
    c.io_queues = get<uint16_t>(p, "IoQueues");
    c.enabled = get<bool>(p, "Enabled");
    return c;
}

}  // namespace

const SubsystemInfo* State::subsystem(const std::string& nqn) const {
    for (const auto& s : subsystems)
        if (s.nqn == nqn) return &s;
    return nullptr;
}

const PortInfo* State::port(uint16_t id) const {
    for (const auto& p : ports)
        if (p.id == id) return &p;
    return nullptr;
}

State build_state(const Properties& manager, const ManagedObjects& objects) {
    State st;
    st.version = get<std::string>(manager, "Version");
    st.state_file = get<std::string>(manager, "StateFile");
    st.admin_group = get<std::string>(manager, "AdminGroup");
    st.ana_groups = get<std::vector<uint32_t>>(manager, "AnaGroups");
    for (auto& o : get<std::vector<sdbus::Struct<std::string, std::string>>>(manager, "Offline"))
        st.offline.emplace_back(o.get<0>(), o.get<1>());
    st.kernel_drift = get<std::vector<std::string>>(manager, "KernelDrift");

    std::vector<NamespaceInfo> namespaces;
    for (const auto& [path, ifaces] : objects) {
        if (auto it = ifaces.find(dbus::kSubsystemInterface); it != ifaces.end())
            st.subsystems.push_back(read_subsystem(it->second));
        if (auto it = ifaces.find(dbus::kNamespaceInterface); it != ifaces.end())
            namespaces.push_back(read_namespace(it->second));
        if (auto it = ifaces.find(dbus::kPortInterface); it != ifaces.end()) st.ports.push_back(read_port(it->second));
        if (auto it = ifaces.find(dbus::kControllerInterface); it != ifaces.end())
            st.controllers.push_back(read_controller(it->second));
    }
    std::sort(st.subsystems.begin(), st.subsystems.end(), [](auto& a, auto& b) { return a.nqn < b.nqn; });
    std::sort(st.ports.begin(), st.ports.end(), [](auto& a, auto& b) { return a.id < b.id; });
    std::sort(st.controllers.begin(), st.controllers.end(),
              [](auto& a, auto& b) { return std::tie(a.subsystem, a.cntlid) < std::tie(b.subsystem, b.cntlid); });
    std::sort(namespaces.begin(), namespaces.end(), [](auto& a, auto& b) { return a.nsid < b.nsid; });
    for (auto& n : namespaces)
        for (auto& s : st.subsystems)
            if (s.nqn == n.subsystem) s.namespaces.push_back(n);
    return st;
}

nlohmann::json to_json(const NamespaceInfo& n) {
    return {{"subsystem", n.subsystem},
            {"nsid", n.nsid},
            {"backend", n.backend},
            {"params", n.params},
            {"uuid", n.uuid},
            {"nguid", n.nguid},
            {"ana_group", n.ana_group},
            {"visible_to", n.visible_to},
            {"size_bytes", n.size_bytes},
            {"online", n.online},
            {"offline_reason", n.offline_reason},
            {"stats",
             {{"read_commands", n.read_commands},
              {"write_commands", n.write_commands},
              {"read_bytes", n.read_bytes},
              {"write_bytes", n.write_bytes},
              {"errors", n.errors}}}};
}

nlohmann::json to_json(const SubsystemInfo& s) {
    nlohmann::json ns = nlohmann::json::array();
    for (const auto& n : s.namespaces) ns.push_back(to_json(n));
    return {{"nqn", s.nqn},
            {"data_path", s.data_path},
            {"passthru_device", s.passthru_device},
            {"serial", s.serial},
            {"model", s.model},
            {"allow_any_host", s.allow_any_host},
            {"hosts", s.hosts},
            {"max_namespaces", s.max_namespaces},
            {"min_cntlid", s.min_cntlid},
            {"max_cntlid", s.max_cntlid},
            {"ports", s.ports},
            {"namespaces", ns}};
}

nlohmann::json to_json(const PortInfo& p) {
    nlohmann::json ana = nlohmann::json::object();
    for (const auto& [g, state] : p.ana_states) ana[std::to_string(g)] = state;
    return {{"id", p.id},
            {"data_path", p.data_path},
            {"transport", p.transport},
            {"family", p.family},
            {"address", p.address},
            {"service", p.service},
            {"params", p.params},
            {"subsystems", p.subsystems},
            {"ana_states", ana},
            {"secure_channel", p.secure_channel},
            {"online", p.online},
            {"offline_reason", p.offline_reason}};
}

nlohmann::json to_json(const ControllerInfo& c) {
    return {{"subsystem", c.subsystem},
            {"cntlid", c.cntlid},
            {"host_nqn", c.host_nqn},
            {"host_id", c.host_id},
            {"host_address", c.host_address},
            {"port", c.port},
            {"discovery", c.discovery},
            {"kato_ms", c.kato_ms},
            {"io_queues", c.io_queues},
            {"enabled", c.enabled}};
}

nlohmann::json to_json(const State& s) {
    nlohmann::json subs = nlohmann::json::array(), ports = nlohmann::json::array(), ctrls = nlohmann::json::array(),
                   offline = nlohmann::json::array();
    for (const auto& x : s.subsystems) subs.push_back(to_json(x));
    for (const auto& x : s.ports) ports.push_back(to_json(x));
    for (const auto& x : s.controllers) ctrls.push_back(to_json(x));
    for (const auto& [what, reason] : s.offline) offline.push_back({{"what", what}, {"reason", reason}});
    return {{"version", s.version},
            {"state_file", s.state_file},
            {"admin_group", s.admin_group},
            {"ana_groups", s.ana_groups},
            {"offline", offline},
            {"kernel_drift", s.kernel_drift},
            {"subsystems", subs},
            {"ports", ports},
            {"controllers", ctrls}};
}

}  // namespace nvmfd::cli
