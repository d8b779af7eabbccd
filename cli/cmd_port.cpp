// nvmfctl port list|show|add|remove|link|unlink
#include <fmt/format.h>

#include "cli/command.hpp"
#include "cli/output.hpp"

namespace nvmfd::cli {
namespace {

const ArgSpec kId{"id", "the port's ID (see 'nvmfctl port list')"};
const ArgSpec kNqn{"nqn", "the subsystem's NQN"};

std::string state_cell(const PortInfo& p) { return p.online ? "listening" : "offline: " + p.offline_reason; }

int list(Context& ctx, const ParsedArgs&) {
    State st = ctx.client.read_state();
    if (ctx.json) {
        nlohmann::json j = nlohmann::json::array();
        for (const auto& p : st.ports) j.push_back(to_json(p));
        print_json(j);
        return 0;
    }
    Table t({"ID", "DATA PATH", "TRANSPORT", "FAMILY", "ADDRESS", "SERVICE", "TLS", "SUBSYSTEMS", "STATE"});
    for (const auto& p : st.ports)
        t.add({std::to_string(p.id), p.data_path, p.transport, p.family, p.address, p.service, p.secure_channel,
               p.subsystems.empty() ? "-" : join(p.subsystems), state_cell(p)});
    print(t);
    return 0;
}

int show(Context& ctx, const ParsedArgs& a) {
    State st = ctx.client.read_state();
    uint16_t id = port_id_arg(a.arg(0));
    const PortInfo* p = st.port(id);
    if (!p) throw CommandError("org.nvmfd.Error.NotFound", fmt::format("no port {}", id));
    if (ctx.json) {
        print_json(to_json(*p));
        return 0;
    }
    std::vector<std::string> params, ana;
    for (const auto& [k, v] : p->params) params.push_back(k + "=" + v);
    for (const auto& [g, s] : p->ana_states) ana.push_back(fmt::format("group {}: {}", g, s));
    print_line(fmt::format("id:         {}", p->id));
    print_line(fmt::format("data path:  {}", p->data_path));
    print_line(fmt::format("transport:  {} ({})", p->transport, p->family));
    print_line(fmt::format("address:    {}:{}", p->address, p->service));
    print_line(fmt::format("params:     {}", params.empty() ? "-" : join(params, " ")));
    print_line(fmt::format("tls:        {}", p->secure_channel));
    print_line(fmt::format("subsystems: {}", p->subsystems.empty() ? "-" : join(p->subsystems)));
    print_line(fmt::format("ANA:        {}", join(ana, "; ")));
    print_line(fmt::format("state:      {}", state_cell(*p)));
    return 0;
}

int add(Context& ctx, const ParsedArgs& a) {
    std::map<std::string, sdbus::Variant> o;
    if (auto v = a.value("id")) o["id"] = port_id_arg(*v);
    if (auto v = a.value("data-path")) o["data_path"] = *v;
    if (auto v = a.value("family")) o["family"] = *v;
    if (auto v = a.value("secure-channel")) o["secure_channel"] = *v;
    std::map<std::string, std::string> params;
    for (const auto& kv : a.values("param")) {
        auto eq = kv.find('=');
        if (eq == std::string::npos || eq == 0) throw UsageError(fmt::format("--param takes KEY=VALUE, not '{}'", kv));
        params[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    if (!params.empty()) o["params"] = params;
    std::string transport = a.value("transport").value_or("tcp");
    std::string service = a.value("port").value_or("4420");
    auto [id, path] = ctx.client.call(
        [&](ManagerProxy& m) { return m.AddPort(transport, *a.value("address"), service, o); });
    done(ctx, fmt::format("port {} added: {} {}:{}", id, transport, *a.value("address"), service),
         {{"id", id}, {"object", std::string(path)}});
    return 0;
}

int remove(Context& ctx, const ParsedArgs& a) {
    uint16_t id = port_id_arg(a.arg(0));
    ctx.client.call([&](ManagerProxy& m) { m.RemovePort(id, a.flag("force")); });
    done(ctx, fmt::format("port {} removed", id));
    return 0;
}

int link(Context& ctx, const ParsedArgs& a) {
    uint16_t id = port_id_arg(a.arg(0));
    ctx.client.call([&](ManagerProxy& m) { m.LinkSubsystem(id, a.arg(1)); });
    done(ctx, fmt::format("{} is served on port {}", a.arg(1), id));
    return 0;
}

int unlink(Context& ctx, const ParsedArgs& a) {
    uint16_t id = port_id_arg(a.arg(0));
    ctx.client.call([&](ManagerProxy& m) { m.UnlinkSubsystem(id, a.arg(1), a.flag("force")); });
    done(ctx, fmt::format("{} is no longer served on port {}", a.arg(1), id));
    return 0;
}

}  // namespace

Group port_commands() {
    const OptionSpec force{"force", "", "disconnect the hosts connected through it instead of refusing"};
    return Group{
        "port",
        "ports: transport addresses nvmfd listens on, each serving the subsystems linked to it",
        {
            {{"port", "list", "List ports.", {}, {}, ""}, list},
            {{"port", "show", "Show a port with its ANA states.", {kId}, {}, ""}, show},
            {{"port",
              "add",
              "Add a port and start listening.",
              {},
              {{"address", "ADDR", "address to listen on, e.g. 0.0.0.0 or ::", false, true},
               {"port", "SERVICE", "TCP port (trsvcid; default 4420)"},
               {"transport", "NAME", "transport plugin (default tcp)"},
               {"family", "ipv4|ipv6", "address family (default ipv4)"},
               {"id", "N", "port ID (default: the lowest free one)"},
               {"data-path", "nvmfd|kernel",
                "who listens: nvmfd (default), or the kernel's nvmet (a port for kernel-served subsystems)"},
               {"secure-channel", "required|allowed|none",
                "TLS 1.3 with a PSK (NVMe/TCP): required refuses plaintext hosts, allowed takes both (default none)"},
               {"param", "KEY=VALUE", "a transport setting for this port", true}},
              "Example:\n  nvmfctl port add --transport tcp --address 0.0.0.0 --port 4420\n"
              "A port serves nothing until subsystems are linked to it ('nvmfctl port link')."},
             add},
            {{"port", "remove", "Stop listening and remove a port.", {kId}, {force}, ""}, remove},
            {{"port", "link", "Serve a subsystem on a port.", {kId, kNqn}, {}, ""}, link},
            {{"port", "unlink", "Stop serving a subsystem on a port.", {kId, kNqn}, {force}, ""}, unlink},
        },
        ""};
}

}  // namespace nvmfd::cli
