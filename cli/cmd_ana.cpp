// nvmfctl ana list|add-group|remove-group|set
#include <fmt/format.h>

#include "cli/command.hpp"
#include "cli/output.hpp"

namespace nvmfd::cli {
namespace {

uint32_t group_arg(const std::string& text) { return uint32_t(parse_number(text, "ANA group", UINT32_MAX)); }

int list(Context& ctx, const ParsedArgs&) {
    State st = ctx.client.read_state();
    if (ctx.json) {
        nlohmann::json ports = nlohmann::json::object();
        for (const auto& p : st.ports) ports[std::to_string(p.id)] = to_json(p)["ana_states"];
        print_json({{"groups", st.ana_groups}, {"states", ports}});
        return 0;
    }
    Table t({"GROUP", "PORT", "STATE", "NAMESPACES"});
    for (uint32_t g : st.ana_groups) {
        std::vector<std::string> members;
        for (const auto& s : st.subsystems)
            for (const auto& n : s.namespaces)
                if (n.ana_group == g) members.push_back(fmt::format("{}:{}", s.nqn, n.nsid));
        std::string ns_cell = members.empty() ? "-" : join(members);
        if (st.ports.empty()) t.add({std::to_string(g), "-", "-", ns_cell});
        for (const auto& p : st.ports) {
            auto it = p.ana_states.find(g);
            t.add({std::to_string(g), std::to_string(p.id), it == p.ana_states.end() ? "optimized" : it->second,
                   ns_cell});
        }
    }
    print(t);
    return 0;
}

int add_group(Context& ctx, const ParsedArgs& a) {
    uint32_t g = group_arg(a.arg(0));
    ctx.client.call([&](ManagerProxy& m) { m.AddAnaGroup(g); });
    done(ctx, fmt::format("ANA group {} added (optimized on every port)", g));
    return 0;
}

int remove_group(Context& ctx, const ParsedArgs& a) {
    uint32_t g = group_arg(a.arg(0));
    ctx.client.call([&](ManagerProxy& m) { m.RemoveAnaGroup(g); });
    done(ctx, fmt::format("ANA group {} removed", g));
    return 0;
}

int set(Context& ctx, const ParsedArgs& a) {
    uint32_t g = group_arg(*a.value("group"));
    uint16_t port = port_id_arg(*a.value("port"));
    ctx.client.call([&](ManagerProxy& m) { m.SetAnaState(port, g, a.arg(0)); });
    done(ctx, fmt::format("ANA group {} on port {} is {}", g, port, a.arg(0)));
    return 0;
}

}  // namespace

Group ana_commands() {
    return Group{
        "ana",
        "Asymmetric Namespace Access: per-port states of namespace groups, for multipath hosts",
        {
            {{"ana", "list", "List ANA groups with their state on every port.", {}, {}, ""}, list},
            {{"ana", "add-group", "Create an ANA group (1-128).", {{"group", "the new group's ID"}}, {}, ""},
             add_group},
            {{"ana", "remove-group", "Remove an ANA group that no namespace uses.", {{"group", "the group's ID"}},
              {}, "Group 1 is the default group and cannot be removed."},
             remove_group},
            {{"ana",
              "set",
              "Set a group's state on a port; connected hosts are told (ANA change notice).",
              {{"state", "optimized, non-optimized, inaccessible, persistent-loss or change"}},
              {{"group", "N", "ANA group", false, true}, {"port", "ID", "port", false, true}},
              "Example:\n  nvmfctl ana set --group 1 --port 1 inaccessible"},
             set},
        },
        ""};
}

}  // namespace nvmfd::cli
