// nvmfctl's commands: each group (subsystem, namespace, ...) lives in its
// own cmd_<group>.cpp and lists its commands with their specs and handlers.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "cli/args.hpp"
#include "cli/client.hpp"

namespace nvmfd::cli {

struct Context {
    Client& client;
    bool json = false;
};

struct Command {
    CommandSpec spec;
    std::function<int(Context&, const ParsedArgs&)> run;
};

struct Group {
    std::string name;
    std::string summary;
    std::vector<Command> commands;
    std::string details;  // shown in `nvmfctl GROUP --help`
};

// A group's commands, or for a top-level command (status) a group with one
// command whose name equals the group's.
Group subsystem_commands();
Group namespace_commands();
Group host_commands();
Group port_commands();
Group ana_commands();
Group controller_commands();
Group policy_commands();
Group gateway_commands();
Group kernel_commands();
Group status_commands();
Group config_commands();

// Common argument parsing helpers for the command files.
uint16_t port_id_arg(const std::string& text);
uint32_t nsid_arg(const std::string& text);
// Report a change done (text mode), or its result object (--json).
void done(const Context& ctx, const std::string& text, const nlohmann::json& result = nullptr);

}  // namespace nvmfd::cli
