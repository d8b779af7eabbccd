// nvmfctl: manage nvmfd over D-Bus. Every command is one call to the
// daemon's org.nvmfd.Manager1 interface (or one read of its objects).
// Exit codes: 0 done, 1 the call failed (the daemon's error is printed),
// 2 the command line is wrong.
#include <cstring>
#include <iostream>

#include <fmt/format.h>

#include "cli/command.hpp"
#include "cli/output.hpp"
#include "dbus/names.hpp"

using namespace nvmfd::cli;

namespace {

struct Globals {
    BusKind bus = BusKind::System;
    std::string service = nvmfd::dbus::kDefaultServiceName;
    bool json = false;
    unsigned timeout_s = 120;
};

std::vector<Group> all_groups() {
    return {subsystem_commands(), namespace_commands(), host_commands(),   port_commands(), ana_commands(),
            controller_commands(), policy_commands(),   gateway_commands(),   kernel_commands(), status_commands(),
            config_commands()};
}

std::string main_help() {
    std::string s =
        "Usage: nvmfctl [--bus system|session] [--json] COMMAND [ARGS]\n\n"
        "Manage nvmfd, the NVMe over Fabrics target, over D-Bus (org.nvmfd).\n\nCommands:\n";
    for (const auto& g : all_groups()) s += fmt::format("  {:<12} {}\n", g.name, g.summary);
    s += "\nGlobal options (anywhere on the line):\n";
    s += fmt::format("  {:<24} {}\n", "--bus system|session", "the bus nvmfd serves on (default: system)");
    s += fmt::format("  {:<24} {}\n", "--dbus-name NAME", "nvmfd's bus name (default: org.nvmfd)");
    s += fmt::format("  {:<24} {}\n", "--json", "print JSON instead of tables (for scripts)");
    s += fmt::format("  {:<24} {}\n", "--timeout SECONDS", "how long to wait for nvmfd to answer (default: 120)");
    s += fmt::format("  {:<24} {}\n", "-h, --help", "show help; 'nvmfctl COMMAND --help' for a command");
    s += fmt::format("  {:<24} {}\n", "--version", "show nvmfctl's version");
    s += "\nExit status: 0 done, 1 the daemon refused or could not be reached, 2 wrong usage.\n"
         "\nExample: build an export\n"
         "  nvmfctl subsystem add nqn.2026-11.io.nvmfd:db1 --serial DB1\n"
         "  nvmfctl namespace add nqn.2026-11.io.nvmfd:db1 --backend uring --path /srv/db1.img --size 100G\n"
         "  nvmfctl port add --transport tcp --address 0.0.0.0 --port 4420\n"
         "  nvmfctl port link 1 nqn.2026-11.io.nvmfd:db1\n"
         "  nvmfctl host allow nqn.2026-11.io.nvmfd:db1 nqn.2014-08.org.nvmexpress:uuid:...\n";
    return s;
}

std::string group_help(const Group& g) {
    std::string s = fmt::format("Usage: nvmfctl {} COMMAND [ARGS]\n\n{}\n\nCommands:\n", g.name, g.summary);
    for (const auto& c : g.commands) s += fmt::format("  {}\n      {}\n", usage_line(c.spec), c.spec.summary);
    if (!g.details.empty()) s += "\n" + g.details + "\n";
    s += fmt::format("\n'nvmfctl {} COMMAND --help' describes a command's arguments and options.\n", g.name);
    return s;
}

// Takes the global options out of argv (they may appear anywhere before "--").
Globals take_globals(std::vector<std::string>& args) {
    Globals g;
    std::vector<std::string> rest;
    for (size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "--") {
            rest.insert(rest.end(), args.begin() + long(i), args.end());
            break;
        }
        auto value_of = [&](const std::string& name) -> std::optional<std::string> {
            if (a == "--" + name) {
                if (i + 1 >= args.size()) throw UsageError(fmt::format("--{} needs a value", name));
                return args[++i];
            }
            if (a.starts_with("--" + name + "=")) return a.substr(name.size() + 3);
            return std::nullopt;
        };
        if (a == "--json") g.json = true;
        else if (auto v = value_of("bus")) {
            if (*v == "system") g.bus = BusKind::System;
            else if (*v == "session") g.bus = BusKind::Session;
            else throw UsageError(fmt::format("--bus must be system or session, not '{}'", *v));
        } else if (auto v = value_of("dbus-name")) g.service = *v;
        else if (auto v = value_of("timeout")) g.timeout_s = unsigned(parse_number(*v, "--timeout", 86400));
        else rest.push_back(a);
    }
    args = std::move(rest);
    return g;
}

bool wants_help(const std::vector<std::string>& args) {
    for (const auto& a : args) {
        if (a == "--") return false;
        if (a == "-h" || a == "--help") return true;
    }
    return false;
}

int usage_error(const std::string& msg, const std::string& hint) {
    std::cerr << "nvmfctl: " << msg << "\n(see '" << hint << " --help')\n";
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    std::vector<std::string> args(argv + 1, argv + argc);
    Globals globals;
    try {
        globals = take_globals(args);
    } catch (const UsageError& e) {
        return usage_error(e.what(), "nvmfctl");
    }
    if (args.empty()) {
        std::cerr << main_help();
        return 2;
    }
    if (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
        std::cout << main_help();
        return 0;
    }
    if (args[0] == "--version") {
        std::cout << "nvmfctl " << NVMFD_VERSION << "\n";
        return 0;
    }

    auto groups = all_groups();
    const Group* group = nullptr;
    for (const auto& g : groups)
        if (g.name == args[0]) group = &g;
    if (!group) return usage_error(fmt::format("unknown command '{}'", args[0]), "nvmfctl");

    const Command* cmd = nullptr;
    std::vector<std::string> rest;
    if (group->commands.size() == 1 && group->commands[0].spec.group.empty()) {
        cmd = &group->commands[0];  // a top-level command such as status
        rest.assign(args.begin() + 1, args.end());
    } else {
        if (args.size() < 2 || args[1] == "-h" || args[1] == "--help") {
            bool asked = args.size() >= 2;
            (asked ? std::cout : std::cerr) << group_help(*group);
            return asked ? 0 : 2;
        }
        for (const auto& c : group->commands)
            if (c.spec.name == args[1] || (group->name == "host" && args[1] == "disallow" && c.spec.name == "revoke"))
                cmd = &c;
        if (!cmd)
            return usage_error(fmt::format("'{}' has no command '{}'", group->name, args[1]), "nvmfctl " + group->name);
        rest.assign(args.begin() + 2, args.end());
    }
    std::string hint = "nvmfctl " + (cmd->spec.group.empty() ? cmd->spec.name : cmd->spec.group + " " + cmd->spec.name);
    if (wants_help(rest)) {
        std::cout << help_text(cmd->spec);
        return 0;
    }

    Client client(globals.bus, globals.service, std::chrono::seconds(globals.timeout_s));
    Context ctx{client, globals.json};
    try {
        ParsedArgs parsed = parse_command(cmd->spec, rest);
        return cmd->run(ctx, parsed);
    } catch (const UsageError& e) {
        return usage_error(e.what(), hint);
    } catch (const CommandError& e) {
        // nvmfd's errors end with their code, which scripts may match on.
        std::string code = e.name.starts_with(nvmfd::dbus::kErrorPrefix)
                               ? e.name.substr(std::strlen(nvmfd::dbus::kErrorPrefix))
                           : e.explained ? std::string()
                                         : e.name;
        std::cerr << "nvmfctl: " << e.what() << (code.empty() ? "" : " [" + code + "]") << "\n";
        return 1;
    } catch (const sdbus::Error& e) {
        std::cerr << "nvmfctl: " << e.getMessage() << " [" << e.getName() << "]\n";
        return 1;
    } catch (const std::exception& e) {
        std::cerr << "nvmfctl: " << e.what() << "\n";
        return 1;
    }
}

// Shared by the command files.
namespace nvmfd::cli {

uint16_t port_id_arg(const std::string& text) { return uint16_t(parse_number(text, "port ID", 0xffff)); }

uint32_t nsid_arg(const std::string& text) { return uint32_t(parse_number(text, "NSID", 0xfffffffe)); }

void done(const Context& ctx, const std::string& text, const nlohmann::json& result) {
    if (!ctx.json) print_line(text);
    else if (!result.is_null()) print_json(result);
}

}  // namespace nvmfd::cli
