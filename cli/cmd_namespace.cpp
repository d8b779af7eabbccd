// nvmfctl namespace list|show|add|remove|resize|set-visibility|set-ana-group
#include <fmt/format.h>

#include "cli/command.hpp"
#include "cli/output.hpp"

namespace nvmfd::cli {
namespace {

const ArgSpec kNqn{"nqn", "the subsystem's NQN"};
const ArgSpec kNsid{"nsid", "namespace ID (1, 2, ...)"};

const NamespaceInfo& find_namespace(const State& st, const std::string& nqn, uint32_t nsid) {
    const SubsystemInfo* s = st.subsystem(nqn);
    if (!s) throw CommandError("org.nvmfd.Error.NotFound", fmt::format("no subsystem '{}'", nqn));
    for (const auto& n : s->namespaces)
        if (n.nsid == nsid) return n;
    throw CommandError("org.nvmfd.Error.NotFound", fmt::format("'{}' has no namespace {}", nqn, nsid));
}

std::string where(const NamespaceInfo& n) {
    if (auto p = n.params.find("path"); p != n.params.end()) return p->second;
    return "-";
}

int list(Context& ctx, const ParsedArgs& a) {
    State st = ctx.client.read_state();
    auto only = a.opt_arg(0);
    if (only && !st.subsystem(*only))
        throw CommandError("org.nvmfd.Error.NotFound", fmt::format("no subsystem '{}'", *only));
    nlohmann::json j = nlohmann::json::array();
    Table t({"SUBSYSTEM", "NSID", "BACKEND", "SIZE", "ANA GROUP", "STATE", "PATH"});
    for (const auto& s : st.subsystems) {
        if (only && s.nqn != *only) continue;
        for (const auto& n : s.namespaces) {
            j.push_back(to_json(n));
            t.add({s.nqn, std::to_string(n.nsid), n.backend, format_size(n.size_bytes), std::to_string(n.ana_group),
                   n.online ? "online" : "offline", where(n)});
        }
    }
    if (ctx.json) print_json(j);
    else print(t);
    return 0;
}

int show(Context& ctx, const ParsedArgs& a) {
    State st = ctx.client.read_state();
    const auto& n = find_namespace(st, a.arg(0), nsid_arg(a.arg(1)));
    if (ctx.json) {
        print_json(to_json(n));
        return 0;
    }
    std::vector<std::string> params;
    for (const auto& [k, v] : n.params) params.push_back(k + "=" + v);
    print_line(fmt::format("subsystem:   {}", n.subsystem));
    print_line(fmt::format("nsid:        {}", n.nsid));
    print_line(fmt::format("backend:     {} ({})", n.backend, join(params, " ")));
    print_line(fmt::format("size:        {} ({} bytes)", format_size(n.size_bytes), n.size_bytes));
    print_line(fmt::format("uuid:        {}", n.uuid));
    print_line(fmt::format("nguid:       {}", n.nguid));
    print_line(fmt::format("ANA group:   {}", n.ana_group));
    print_line(fmt::format("visible to:  {}", n.visible_to.empty() ? "every allowed host" : join(n.visible_to)));
    print_line(fmt::format("state:       {}", n.online ? "online" : "offline: " + n.offline_reason));
    print_line(fmt::format("reads:       {} commands, {}", n.read_commands, format_size(n.read_bytes)));
    print_line(fmt::format("writes:      {} commands, {}", n.write_commands, format_size(n.write_bytes)));
    print_line(fmt::format("errors:      {}", n.errors));
    return 0;
}

int add(Context& ctx, const ParsedArgs& a) {
    std::map<std::string, std::string> params;
    for (const auto& kv : a.values("param")) {
        auto eq = kv.find('=');
        if (eq == std::string::npos || eq == 0) throw UsageError(fmt::format("--param takes KEY=VALUE, not '{}'", kv));
        params[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    if (auto v = a.value("size")) params["size"] = *v;
    if (auto v = a.value("path")) params["path"] = *v;
    std::map<std::string, sdbus::Variant> o;
    if (auto v = a.value("nsid")) o["nsid"] = nsid_arg(*v);
    if (auto v = a.value("ana-group")) o["ana_group"] = uint32_t(parse_number(*v, "--ana-group", UINT32_MAX));
    if (auto v = a.values("visible-to"); !v.empty()) o["visible_to"] = v;
    if (auto v = a.value("uuid")) o["uuid"] = *v;
    if (auto v = a.value("nguid")) o["nguid"] = *v;
    auto [nsid, path] = ctx.client.call(
        [&](ManagerProxy& m) { return m.AddNamespace(a.arg(0), *a.value("backend"), params, o); });
    done(ctx, fmt::format("namespace {} added to {}", nsid, a.arg(0)),
         {{"nqn", a.arg(0)}, {"nsid", nsid}, {"object", std::string(path)}});
    return 0;
}

int remove(Context& ctx, const ParsedArgs& a) {
    uint32_t nsid = nsid_arg(a.arg(1));
    ctx.client.call([&](ManagerProxy& m) { m.RemoveNamespace(a.arg(0), nsid); });
    done(ctx, fmt::format("namespace {} removed from {}", nsid, a.arg(0)));
    return 0;
}

int resize(Context& ctx, const ParsedArgs& a) {
    uint32_t nsid = nsid_arg(a.arg(1));
    uint64_t size = parse_size_bytes(a.arg(2), "SIZE");
    ctx.client.call([&](ManagerProxy& m) { m.ResizeNamespace(a.arg(0), nsid, size); });
    done(ctx, fmt::format("namespace {} of {} is now {}", nsid, a.arg(0), format_size(size)));
    return 0;
}

int set_visibility(Context& ctx, const ParsedArgs& a) {
    uint32_t nsid = nsid_arg(a.arg(1));
    auto hosts = a.rest(2);
    if (hosts.empty() && !a.flag("all"))
        throw UsageError("name the hosts that may see the namespace, or give --all to show it to every allowed host");
    if (!hosts.empty() && a.flag("all")) throw UsageError("give either hosts or --all, not both");
    ctx.client.call([&](ManagerProxy& m) { m.SetNamespaceVisibility(a.arg(0), nsid, hosts); });
    done(ctx, hosts.empty() ? fmt::format("namespace {} of {} is visible to every allowed host", nsid, a.arg(0))
                            : fmt::format("namespace {} of {} is visible to {}", nsid, a.arg(0), join(hosts)));
    return 0;
}

int set_ana_group(Context& ctx, const ParsedArgs& a) {
    uint32_t nsid = nsid_arg(a.arg(1));
    uint32_t group = uint32_t(parse_number(a.arg(2), "GROUP", UINT32_MAX));
    ctx.client.call([&](ManagerProxy& m) { m.SetNamespaceAnaGroup(a.arg(0), nsid, group); });
    done(ctx, fmt::format("namespace {} of {} is in ANA group {}", nsid, a.arg(0), group));
    return 0;
}

int provision(Context& ctx, const ParsedArgs& a) {
    auto args = a.key_values("arg");
    auto made = ctx.client.call([&](ManagerProxy& m) { return m.ProvisionNamespace(a.arg(0), args); });
    if (ctx.json) {
        print_json(made);
        return 0;
    }
    print_line(fmt::format("provisioned by template {}", a.arg(0)));
    Table t({"KEY", "VALUE"});
    for (const auto& [k, v] : made) t.add({k, v});
    if (!t.empty()) print(t);
    return 0;
}

}  // namespace

Group namespace_commands() {
    return Group{
        "namespace",
        "namespaces: the block devices a subsystem exports, each served by a backend plugin",
        {
            {{"namespace", "list", "List namespaces, of every subsystem or of one.",
              {{"nqn", "only this subsystem", true}}, {}, ""},
             list},
            {{"namespace", "show", "Show a namespace with its I/O counters.", {kNqn, kNsid}, {}, ""}, show},
            {{"namespace",
              "add",
              "Add a namespace; hosts already connected are told (namespace attribute notice).",
              {kNqn},
              {{"backend", "NAME", "backend plugin: malloc (RAM), uring (file or block device), ...", false, true},
               {"size", "SIZE", "size, e.g. 64M, 100G (shortcut for --param size=SIZE)"},
               {"path", "PATH", "backing file or device (shortcut for --param path=PATH)"},
               {"param", "KEY=VALUE", "a backend setting (see the backend's documentation)", true},
               {"nsid", "N", "namespace ID (default: the lowest free one)"},
               {"ana-group", "N", "ANA group (default 1)"},
               {"visible-to", "HOSTNQN", "only this host sees the namespace (default: every allowed host)", true},
               {"uuid", "UUID", "namespace UUID (default: generated once, then kept)"},
               {"nguid", "HEX32", "namespace NGUID (default: generated once, then kept)"}},
              "Examples:\n"
              "  nvmfctl namespace add nqn.2026-11.io.nvmfd:db1 --backend malloc --size 1G\n"
              "  nvmfctl namespace add nqn.2026-11.io.nvmfd:db1 --backend uring --path /srv/db1.img --size 100G"},
             add},
            {{"namespace",
              "provision",
              "Make a namespace with a provisioning template of a loaded policy.",
              {{"template", "the template's name (templates.NAME in a policy script)"}},
              {{"arg", "KEY=VALUE", "an argument of the template (see the policy's documentation)", true}},
              "The template decides backend, size, NSID, masking and ANA group, and answers what\n"
              "it made. If it fails halfway, what it changed is undone. See docs/lua-api.md.\n"
              "Example:\n"
              "  nvmfctl namespace provision volume --arg name=db1 --arg size=1G \\\n"
              "      --arg host=nqn.2014-08.org.nvmexpress:uuid:..."},
             provision},
            {{"namespace", "remove", "Remove a namespace (in-flight I/O drains first).", {kNqn, kNsid}, {}, ""},
             remove},
            {{"namespace", "resize", "Change a namespace's size; connected hosts are told.",
              {kNqn, kNsid, {"size", "new size, e.g. 200G (a multiple of the block size)"}}, {}, ""},
             resize},
            {{"namespace", "set-visibility", "Choose which hosts see a namespace (namespace masking).",
              {kNqn, kNsid, {"hostnqn", "hosts that may see it", true, true}},
              {{"all", "", "every host allowed on the subsystem sees it (clears the list)"}}, ""},
             set_visibility},
            {{"namespace", "set-ana-group", "Move a namespace to another ANA group.",
              {kNqn, kNsid, {"group", "ANA group ID (see 'nvmfctl ana list')"}}, {}, ""},
             set_ana_group},
        },
        ""};
}

}  // namespace nvmfd::cli
