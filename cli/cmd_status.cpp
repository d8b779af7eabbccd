// nvmfctl status: the daemon at a glance, or everything with --json.
#include <fmt/format.h>

#include "cli/command.hpp"
#include "cli/output.hpp"

namespace nvmfd::cli {
namespace {

int status(Context& ctx, const ParsedArgs&) {
    State st = ctx.client.read_state();
    if (ctx.json) {
        print_json(to_json(st));
        return 0;
    }
    size_t namespaces = 0, offline_ns = 0;
    for (const auto& s : st.subsystems)
        for (const auto& n : s.namespaces) {
            ++namespaces;
            if (!n.online) ++offline_ns;
        }
    size_t hosts = 0;
    for (const auto& c : st.controllers)
        if (!c.discovery) ++hosts;
    print_line(fmt::format("nvmfd {} ({} on the {} bus)", st.version, ctx.client.service(), ctx.client.bus_name()));
    print_line(fmt::format("state file:  {}", st.state_file.empty() ? "none (changes are not persisted)" : st.state_file));
    print_line(fmt::format("subsystems:  {}", st.subsystems.size()));
    print_line(fmt::format("namespaces:  {}{}", namespaces, offline_ns ? fmt::format(" ({} offline)", offline_ns) : ""));
    print_line(fmt::format("ports:       {}", st.ports.size()));
    print_line(fmt::format("controllers: {} connected", hosts));
    std::vector<std::string> groups;
    for (auto g : st.ana_groups) groups.push_back(std::to_string(g));
    print_line(fmt::format("ANA groups:  {}", join(groups)));
    if (!st.offline.empty()) {
        print_line("\nnot serving:");
        for (const auto& [what, reason] : st.offline) print_line(fmt::format("  {}: {}", what, reason));
    }
    if (!st.kernel_drift.empty()) {
        print_line("\nkernel differs (held back at start; 'nvmfctl kernel apply' applies it):");
        for (const auto& line : st.kernel_drift) print_line("  " + line);
    }
    if (!st.ports.empty()) {
        print_line("");
        Table t({"PORT", "DATA PATH", "TRANSPORT", "ADDRESS", "TLS", "SUBSYSTEMS"});
        for (const auto& p : st.ports)
            t.add({std::to_string(p.id), p.data_path, p.transport,
                   p.service.empty() ? p.address : fmt::format("{}:{}", p.address, p.service),  // fc: names only
                   p.secure_channel, p.subsystems.empty() ? "-" : join(p.subsystems)});
        print(t);
    }
    return 0;
}

}  // namespace

Group status_commands() {
    return Group{"status",
                 "the daemon at a glance (everything, with --json)",
                 {{{"", "status", "Show the daemon's version, state file, exports, and what is not serving.", {},
                    {}, "With --json: every subsystem, namespace, port and controller with all their properties."},
                   status}},
                 ""};
}

}  // namespace nvmfd::cli
