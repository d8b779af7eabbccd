// nvmfctl subsystem list|show|add|set|remove
#include <fmt/format.h>

#include "cli/command.hpp"
#include "cli/output.hpp"

namespace nvmfd::cli {
namespace {

const ArgSpec kNqn{"nqn", "the subsystem's NQN, e.g. nqn.2026-11.io.nvmfd:db1"};

std::map<std::string, sdbus::Variant> settings(const ParsedArgs& a, bool for_add) {
    std::map<std::string, sdbus::Variant> o;
    // The daemon checks the values (nvmfd|kernel, a /dev/nvmeN): its error names the field.
    if (auto v = a.value("data-path")) o["data_path"] = *v;
    if (auto v = a.value("passthru")) o["passthru_device"] = *v;
    if (a.flag("no-passthru")) {
        if (o.contains("passthru_device")) throw UsageError("--passthru and --no-passthru exclude each other");
        o["passthru_device"] = std::string();
    }
    if (auto v = a.value("serial")) o["serial"] = *v;
    if (auto v = a.value("model")) o["model"] = *v;
    if (for_add) {
        if (a.flag("allow-any-host")) o["allow_any_host"] = true;
    } else if (auto v = a.value("allow-any-host")) {
        o["allow_any_host"] = parse_yes_no(*v, "--allow-any-host");
    }
    if (auto v = a.value("max-namespaces"))
        o["max_namespaces"] = uint32_t(parse_number(*v, "--max-namespaces", UINT32_MAX));
    if (auto v = a.value("cntlid-range")) {
        auto dash = v->find('-');
        if (dash == std::string::npos)
            throw UsageError(fmt::format("--cntlid-range '{}': expected MIN-MAX, e.g. 1-1000", *v));
        o["min_cntlid"] = uint16_t(parse_number(v->substr(0, dash), "--cntlid-range (MIN)", 0xffef));
        o["max_cntlid"] = uint16_t(parse_number(v->substr(dash + 1), "--cntlid-range (MAX)", 0xffef));
    }
    return o;
}

std::string hosts_cell(const SubsystemInfo& s) {
    if (s.allow_any_host) return "any";
    return s.hosts.empty() ? "none" : std::to_string(s.hosts.size());
}

// "kernel (passthru /dev/nvme0)" when a controller is passed through.
std::string data_path_cell(const SubsystemInfo& s) {
    return s.passthru_device.empty() ? s.data_path : fmt::format("{} (passthru {})", s.data_path, s.passthru_device);
}

int list(Context& ctx, const ParsedArgs&) {
    State st = ctx.client.read_state();
    if (ctx.json) {
        nlohmann::json j = nlohmann::json::array();
        for (const auto& s : st.subsystems) j.push_back(to_json(s));
        print_json(j);
        return 0;
    }
    Table t({"NQN", "DATA PATH", "SERIAL", "MODEL", "HOSTS", "NAMESPACES", "PORTS"});
    for (const auto& s : st.subsystems) {
        std::vector<std::string> ports;
        for (auto p : s.ports) ports.push_back(std::to_string(p));
        t.add({s.nqn, data_path_cell(s), s.serial, s.model, hosts_cell(s), std::to_string(s.namespaces.size()),
               ports.empty() ? "-" : join(ports, ",")});
    }
    print(t);
    return 0;
}

int show(Context& ctx, const ParsedArgs& a) {
    State st = ctx.client.read_state();
    const SubsystemInfo* s = st.subsystem(a.arg(0));
    if (!s) throw CommandError("org.nvmfd.Error.NotFound", fmt::format("no subsystem '{}'", a.arg(0)));
    if (ctx.json) {
        print_json(to_json(*s));
        return 0;
    }
    std::vector<std::string> ports;
    for (auto p : s->ports) ports.push_back(std::to_string(p));
    print_line(fmt::format("nqn:            {}", s->nqn));
    print_line(fmt::format("data path:      {}", s->data_path));
    if (!s->passthru_device.empty()) print_line(fmt::format("passthru:       {}", s->passthru_device));
    print_line(fmt::format("serial:         {}", s->serial));
    print_line(fmt::format("model:          {}", s->model));
    print_line(fmt::format("allow any host: {}", s->allow_any_host ? "yes" : "no"));
    print_line(fmt::format("hosts:          {}", s->hosts.empty() ? "-" : join(s->hosts)));
    print_line(fmt::format("max namespaces: {}", s->max_namespaces));
    print_line(fmt::format("cntlid range:   {}-{}", s->min_cntlid, s->max_cntlid));
    print_line(fmt::format("ports:          {}", ports.empty() ? "-" : join(ports)));
    print_line("");
    Table t({"NSID", "BACKEND", "SIZE", "ANA GROUP", "STATE"});
    for (const auto& n : s->namespaces)
        t.add({std::to_string(n.nsid), n.backend, format_size(n.size_bytes), std::to_string(n.ana_group),
               n.online ? "online" : "offline: " + n.offline_reason});
    if (t.empty()) print_line("no namespaces");
    else print(t);
    return 0;
}

int add(Context& ctx, const ParsedArgs& a) {
    auto path = ctx.client.call([&](ManagerProxy& m) { return m.AddSubsystem(a.arg(0), settings(a, true)); });
    done(ctx, fmt::format("subsystem {} added", a.arg(0)), {{"nqn", a.arg(0)}, {"object", std::string(path)}});
    return 0;
}

int set(Context& ctx, const ParsedArgs& a) {
    auto o = settings(a, false);
    if (o.empty())
        throw UsageError(
            "nothing to change: give --passthru, --no-passthru, --serial, --model, --allow-any-host, --max-namespaces "
            "or --cntlid-range");
    ctx.client.call([&](ManagerProxy& m) { m.SetSubsystem(a.arg(0), o); });
    done(ctx, fmt::format("subsystem {} changed", a.arg(0)));
    return 0;
}

int remove(Context& ctx, const ParsedArgs& a) {
    ctx.client.call([&](ManagerProxy& m) { m.RemoveSubsystem(a.arg(0), a.flag("force")); });
    done(ctx, fmt::format("subsystem {} removed", a.arg(0)));
    return 0;
}

}  // namespace

Group subsystem_commands() {
    const OptionSpec serial{"serial", "TEXT", "serial number hosts see (up to 20 printable characters; default random)"};
    const OptionSpec model{"model", "TEXT", "model number hosts see (up to 40 printable characters)"};
    const OptionSpec max_ns{"max-namespaces", "N", "highest NSID allowed (1-4096; default 1024)"};
    const OptionSpec passthru{"passthru", "/dev/nvmeN",
                              "kernel data path only: pass this whole local NVMe controller through (then the "
                              "subsystem has no namespaces of its own)"};
    const OptionSpec cntlid_range{"cntlid-range", "MIN-MAX",
                                  "controller IDs this gateway hands out (default 1-65519); gateways exporting "
                                  "the same subsystem need disjoint ranges"};
    return Group{
        "subsystem",
        "NVM subsystems: the exported targets hosts connect to by NQN",
        {
            {{"subsystem", "list", "List subsystems.", {}, {}, ""}, list},
            {{"subsystem", "show", "Show a subsystem and its namespaces.", {kNqn}, {}, ""}, show},
            {{"subsystem", "add", "Add a subsystem (no hosts allowed until 'host allow' or --allow-any-host).", {kNqn},
              {{"data-path", "nvmfd|kernel",
                "who serves its data: nvmfd (default), or the kernel's nvmet, which nvmfd configures; fixed once "
                "added"},
               passthru, serial, model, {"allow-any-host", "", "let every host connect (no host list)"}, max_ns,
               cntlid_range},
              "Examples:\n  nvmfctl subsystem add nqn.2026-11.io.nvmfd:db1 --serial DB1\n"
              "  nvmfctl subsystem add nqn.2026-11.io.nvmfd:pt1 --data-path kernel --passthru /dev/nvme0"},
             add},
            {{"subsystem", "set", "Change a subsystem's settings; only the options given change.", {kNqn},
              {passthru, {"no-passthru", "", "pass no controller through any more"}, serial, model,
               {"allow-any-host", "yes|no", "let every host connect, or only the allowed hosts"}, max_ns,
               cntlid_range},
              "Turning allow-any-host off disconnects connected hosts that are not on the list.\n"
              "The data path cannot change: remove the subsystem and add it again."},
             set},
            {{"subsystem", "remove", "Remove a subsystem with its namespaces.", {kNqn},
              {{"force", "", "disconnect connected hosts instead of refusing"}},
              "Refused with Busy while hosts are connected, unless --force."},
             remove},
        },
        ""};
}

}  // namespace nvmfd::cli
