// nvmfd's settings: command line and an INI file (Boost.program_options).
// The file holds the same keys as the long options, plus one section per
// transport for its settings, e.g.
//
//   reactors = 2
//   log-level = info
//   [transport.tcp]
//   in_capsule_data_size = 8192
//   [kernel.nvmet]
//   configfs_root = /sys/kernel/config/nvmet
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/plugin/params.hpp"
#include "core/runtime/log.hpp"
#include "core/runtime/reactor.hpp"
#include "core/target/target.hpp"

namespace nvmfd::daemon {

struct ListenAddress {
    std::string family;  // ipv4 / ipv6
    std::string address;
    std::string service;
};

struct Options {
    std::optional<std::filesystem::path> config_file;
    std::optional<std::filesystem::path> state_file;  // none with --no-state
    std::filesystem::path plugin_dir;
    unsigned reactors = 1;
    std::vector<int> cpus;
    runtime::ReactorOptions reactor;
    log::Level log_level = log::Level::Info;
    target::TargetOptions target;
    std::map<std::string, plugin::Params> transport_params;
    plugin::Params kernel_params;  // [kernel.nvmet]: the kernel data path's settings
    bool default_export = true;
    ListenAddress listen{"ipv4", "127.0.0.1", "4420"};
    std::string default_nqn = "nqn.2026-11.io.nvmfd:default";
    std::string default_size = "1G";
    bool list_plugins = false;
    // Management over D-Bus. With the default bus, a bus that cannot be
    // used is a warning (a quick run on a machine without a system bus
    // still serves); asked for explicitly (e.g. by nvmfd.service) it is fatal.
    std::string bus = "system";  // system, session or none
    bool bus_explicit = false;
    std::string dbus_name = "org.nvmfd";
    std::string admin_group = "nvmfd-admin";  // may make changes besides root
    // What one Lua policy may use (main.cpp turns it into lua::PolicyLimits).
    struct PolicyBudget {
        size_t memory_bytes = 32u << 20;
        uint64_t instructions = 10'000'000;
        std::chrono::milliseconds time_budget{500};
    } policy;
};

// Parses argv and the config file. On --help/--version prints and returns
// exit code 0 in `exit_code`; on bad input returns an error (exit code 2).
struct ParseOutcome {
    std::optional<Options> options;
    int exit_code = 0;
};
Result<ParseOutcome> parse_options(int argc, char** argv);

Result<ListenAddress> parse_listen_address(const std::string& text);

}  // namespace nvmfd::daemon
