#include "core/daemon/options.hpp"

#include <boost/program_options.hpp>
#include <fstream>
#include <iostream>
#include <unistd.h>

namespace nvmfd::daemon {

namespace po = boost::program_options;

namespace {

std::filesystem::path default_plugin_dir() {
    // Next to the binary in a build tree; the installed directory otherwise.
    std::error_code ec;
    auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (!ec) {
        auto beside = exe.parent_path() / "plugins";
        if (std::filesystem::exists(beside / "nvmfd-transport-tcp.so", ec)) return beside;
    }
    return NVMFD_INSTALL_PLUGIN_DIR;
}

Result<std::vector<int>> parse_cpus(const std::string& text) {
    std::vector<int> cpus;
    size_t pos = 0;
    while (pos <= text.size()) {
        size_t comma = text.find(',', pos);
        std::string item = text.substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
        auto v = plugin::parse_uint(item, "cpus");
        if (!v || *v > 4095) return make_error(ErrorCode::InvalidArgument, "a comma separated list of CPU numbers", "cpus");
        cpus.push_back(static_cast<int>(*v));
        if (comma == std::string::npos) break;
        pos = comma + 1;
    }
    return cpus;
}

// An unsigned option within [lo, hi], or an error naming it.
Result<unsigned> bounded(const po::variables_map& vm, const char* name, unsigned lo, unsigned hi) {
    unsigned v = vm[name].as<unsigned>();
    if (v < lo || v > hi)
        return make_error(ErrorCode::InvalidArgument, fmt::format("must be {} to {}", lo, hi), name);
    return v;
}

}  // namespace

Result<ListenAddress> parse_listen_address(const std::string& text) {
    ListenAddress a;
    size_t colon;
    if (!text.empty() && text.front() == '[') {
        size_t close = text.find(']');
        if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':')
            return make_error(ErrorCode::InvalidArgument, "an IPv6 address is written [ADDR]:PORT", "listen");
        a.family = "ipv6";
        a.address = text.substr(1, close - 1);
        a.service = text.substr(close + 2);
    } else if ((colon = text.rfind(':')) != std::string::npos) {
        a.family = "ipv4";
        a.address = text.substr(0, colon);
        a.service = text.substr(colon + 1);
    } else {
        return make_error(ErrorCode::InvalidArgument, fmt::format("'{}' is not ADDR:PORT", text), "listen");
    }
    if (a.address.empty() || a.service.empty())
        return make_error(ErrorCode::InvalidArgument, fmt::format("'{}' is not ADDR:PORT", text), "listen");
    return a;
}

Result<ParseOutcome> parse_options(int argc, char** argv) {
    po::options_description general("nvmfd options");
    // clang-format off
    general.add_options()
        ("help,h", "show this help and exit")
        ("version", "show the version and exit")
        ("config,c", po::value<std::string>(), "INI settings file (same keys as these options, plus [transport.NAME] and [kernel.nvmet] sections)")
        ("state-file", po::value<std::string>()->default_value("/var/lib/nvmfd/state.json"), "where the export state is kept across restarts")
        ("no-state", po::bool_switch(), "keep the export state in memory only")
        ("plugin-dir", po::value<std::string>(), "directory of nvmfd-*.so plugins (default: beside the binary in a build tree, else " NVMFD_INSTALL_PLUGIN_DIR ")")
        ("list-plugins", po::bool_switch(), "list the plugins found in the plugin directory and exit")
        ("reactors", po::value<unsigned>()->default_value(1), "number of reactor (data path) threads")
        ("cpus", po::value<std::string>(), "pin reactor i to the i-th CPU of this comma separated list")
        ("busy-poll", po::bool_switch(), "reactors spin instead of sleeping: lowest latency, one full core each")
        ("poll-window", po::value<unsigned>()->default_value(50), "microseconds a reactor keeps polling after doing work before it sleeps (0: sleep at once; an idle reactor always sleeps)")
        ("buffer-pool", po::value<std::string>()->default_value("64M"), "data buffer memory per reactor")
        ("log-level", po::value<std::string>()->default_value("info"), "error, warn, notice, info, debug or trace")
        ("max-queue-size", po::value<unsigned>()->default_value(1024), "largest queue a host may create (entries)")
        ("max-io-queues", po::value<unsigned>()->default_value(64), "I/O queues per controller")
        ("max-controllers", po::value<unsigned>()->default_value(4096), "controllers (host associations, discovery included) the target accepts in all")
        ("max-controllers-per-host", po::value<unsigned>()->default_value(512), "controllers one host NQN may have at once")
        ("max-controllers-per-host-per-subsystem", po::value<unsigned>()->default_value(128), "controllers one host NQN may have at once in one subsystem")
        ("max-io-queues-per-host", po::value<unsigned>()->default_value(4096), "I/O queues one host NQN may be granted over all its controllers (Number of Queues grants fewer past it)")
        ("max-pending-connections-per-address", po::value<unsigned>()->default_value(1024), "connections from one peer address that have not completed a Fabrics Connect; more are closed at accept")
        ("max-discovery-queue-size", po::value<unsigned>()->default_value(128), "largest queue a host may create on a discovery controller (entries)")
        ("admission-timeout-ms", po::value<unsigned>()->default_value(5000), "how long a Connect waits for the policies' on_host_connect before the allow-list's decision stands (ms)")
        ("policy-memory", po::value<std::string>()->default_value("32M"), "Lua memory per policy (1M to 1G)")
        ("policy-instructions", po::value<uint64_t>()->default_value(10000000), "Lua VM instructions per handler or timer call (10000 to 10000000000)")
        ("policy-time-budget-ms", po::value<unsigned>()->default_value(500), "wall time per handler or timer call (10 to 60000 ms)")
        ("default-export", po::value<bool>()->default_value(true), "with no state file yet, serve a malloc namespace (see --listen)")
        ("listen", po::value<std::string>()->default_value("127.0.0.1:4420"), "address of the default export's port, ADDR:PORT or [ADDR]:PORT")
        ("default-nqn", po::value<std::string>()->default_value("nqn.2026-11.io.nvmfd:default"), "NQN of the default export")
        ("default-size", po::value<std::string>()->default_value("1G"), "size of the default export's malloc namespace")
        ("bus", po::value<std::string>()->default_value("system"), "serve the management API (org.nvmfd) on the system or session D-Bus, or none")
        ("dbus-name", po::value<std::string>()->default_value("org.nvmfd"), "well-known D-Bus name to own")
        ("admin-group", po::value<std::string>()->default_value("nvmfd-admin"), "besides root, members of this group may change exports over D-Bus");
    // clang-format on

    po::variables_map vm;
    std::vector<po::basic_option<char>> file_options;
    try {
        po::store(po::parse_command_line(argc, argv, general), vm);
        if (vm.count("config")) {
            std::string path = vm["config"].as<std::string>();
            std::ifstream in(path);
            if (!in) return make_error(ErrorCode::InvalidArgument, fmt::format("cannot read config file {}", path), "config");
            auto parsed = po::parse_config_file(in, general, /*allow_unregistered=*/true);
            for (auto& o : parsed.options) {
                if (!o.unregistered) continue;
                if (!o.string_key.starts_with("transport.") && !o.string_key.starts_with("kernel.nvmet."))
                    return make_error(ErrorCode::InvalidArgument,
                                      fmt::format("{}: unknown setting '{}'", path, o.string_key), o.string_key);
                file_options.push_back(o);
            }
            po::store(parsed, vm);
        }
        po::notify(vm);
    } catch (const po::error& e) {
        return make_error(ErrorCode::InvalidArgument, e.what());
    }

    ParseOutcome out;
    if (vm.count("help")) {
        std::cout << "nvmfd - NVMe over Fabrics target\n\nUsage: nvmfd [options]\n\n" << general << "\n";
        return out;
    }
    if (vm.count("version")) {
        std::cout << "nvmfd " << NVMFD_VERSION << "\n";
        return out;
    }
    Options o;
    if (vm.count("config")) o.config_file = vm["config"].as<std::string>();
    if (!vm["no-state"].as<bool>()) o.state_file = vm["state-file"].as<std::string>();
    o.plugin_dir = vm.count("plugin-dir") ? std::filesystem::path(vm["plugin-dir"].as<std::string>()) : default_plugin_dir();
    o.list_plugins = vm["list-plugins"].as<bool>();
    o.reactors = vm["reactors"].as<unsigned>();
    if (o.reactors == 0 || o.reactors > 256)
        return make_error(ErrorCode::InvalidArgument, "must be 1 to 256", "reactors");
    if (vm.count("cpus")) {
        auto cpus = parse_cpus(vm["cpus"].as<std::string>());
        if (!cpus) return nvmfd::unexpected(cpus.error());
        o.cpus = *cpus;
    }
    o.reactor.busy_poll = vm["busy-poll"].as<bool>();
    unsigned window = vm["poll-window"].as<unsigned>();
    if (window > 1000000) return make_error(ErrorCode::InvalidArgument, "at most 1000000 (1 s)", "poll-window");
    o.reactor.poll_window = std::chrono::microseconds(window);
    auto pool = plugin::parse_size(vm["buffer-pool"].as<std::string>(), "buffer-pool");
    if (!pool) return nvmfd::unexpected(pool.error());
    if (*pool < (4u << 20)) return make_error(ErrorCode::InvalidArgument, "must be at least 4M", "buffer-pool");
    o.reactor.buffer_pool_bytes = *pool;
    auto level = log::parse_level(vm["log-level"].as<std::string>());
    if (!level) return make_error(ErrorCode::InvalidArgument, "must be error, warn, notice, info, debug or trace", "log-level");
    o.log_level = *level;
    o.target.max_queue_size = vm["max-queue-size"].as<unsigned>();
    if (o.target.max_queue_size < 2 || o.target.max_queue_size > 65535)
        return make_error(ErrorCode::InvalidArgument, "must be 2 to 65535", "max-queue-size");
    unsigned ioq = vm["max-io-queues"].as<unsigned>();
    if (ioq < 1 || ioq > 1024) return make_error(ErrorCode::InvalidArgument, "must be 1 to 1024", "max-io-queues");
    o.target.max_io_queues = static_cast<uint16_t>(ioq);
    unsigned max_ctrls = vm["max-controllers"].as<unsigned>();
    if (max_ctrls < 1 || max_ctrls > 1000000)
        return make_error(ErrorCode::InvalidArgument, "must be 1 to 1000000", "max-controllers");
    o.target.controller_limits.max_controllers = max_ctrls;
    unsigned per_host = vm["max-controllers-per-host"].as<unsigned>();
    if (per_host < 1 || per_host > max_ctrls)
        return make_error(ErrorCode::InvalidArgument, "must be 1 to max-controllers", "max-controllers-per-host");
    o.target.controller_limits.max_controllers_per_host = per_host;
    // Host limits of issue 10 (docs/limits.md says why their defaults).
    auto per_host_sub = bounded(vm, "max-controllers-per-host-per-subsystem", 1, 65519);
    auto io_per_host = bounded(vm, "max-io-queues-per-host", 1, 1000000);
    auto pending = bounded(vm, "max-pending-connections-per-address", 1, 1000000);
    for (auto* r : {&per_host_sub, &io_per_host, &pending})
        if (!*r) return nvmfd::unexpected(r->error());
    o.target.controller_limits.max_controllers_per_host_subsystem = *per_host_sub;
    o.target.controller_limits.max_io_queues_per_host = *io_per_host;
    o.target.connection_limits.max_pending_per_address = *pending;
    unsigned disc_q = vm["max-discovery-queue-size"].as<unsigned>();
    if (disc_q < 2 || disc_q > o.target.max_queue_size)
        return make_error(ErrorCode::InvalidArgument, "must be 2 to max-queue-size", "max-discovery-queue-size");
    o.target.max_discovery_queue_size = disc_q;
    unsigned admission_ms = vm["admission-timeout-ms"].as<unsigned>();
    if (admission_ms < 10 || admission_ms > 60000)
        return make_error(ErrorCode::InvalidArgument, "must be 10 to 60000", "admission-timeout-ms");
    o.target.admission_timeout = std::chrono::milliseconds(admission_ms);
    auto policy_memory = plugin::parse_size(vm["policy-memory"].as<std::string>(), "policy-memory");
    if (!policy_memory) return nvmfd::unexpected(policy_memory.error());
    if (*policy_memory < (1u << 20) || *policy_memory > (1u << 30))
        return make_error(ErrorCode::InvalidArgument, "must be 1M to 1G", "policy-memory");
    o.policy.memory_bytes = *policy_memory;
    o.policy.instructions = vm["policy-instructions"].as<uint64_t>();
    if (o.policy.instructions < 10000 || o.policy.instructions > 10000000000ull)
        return make_error(ErrorCode::InvalidArgument, "must be 10000 to 10000000000", "policy-instructions");
    unsigned budget_ms = vm["policy-time-budget-ms"].as<unsigned>();
    if (budget_ms < 10 || budget_ms > 60000)
        return make_error(ErrorCode::InvalidArgument, "must be 10 to 60000", "policy-time-budget-ms");
    o.policy.time_budget = std::chrono::milliseconds(budget_ms);
    o.target.firmware_revision = NVMFD_VERSION;
    o.default_export = vm["default-export"].as<bool>();
    auto listen = parse_listen_address(vm["listen"].as<std::string>());
    if (!listen) return nvmfd::unexpected(listen.error());
    o.listen = *listen;
    o.default_nqn = vm["default-nqn"].as<std::string>();
    o.default_size = vm["default-size"].as<std::string>();
    o.bus = vm["bus"].as<std::string>();
    if (o.bus != "system" && o.bus != "session" && o.bus != "none")
        return make_error(ErrorCode::InvalidArgument, fmt::format("'{}' is not system, session or none", o.bus), "bus");
    o.bus_explicit = !vm["bus"].defaulted();
    o.dbus_name = vm["dbus-name"].as<std::string>();
    o.admin_group = vm["admin-group"].as<std::string>();
    for (auto& fo : file_options) {
        if (fo.string_key.starts_with("kernel.nvmet.") && !fo.value.empty()) {
            o.kernel_params[fo.string_key.substr(std::string("kernel.nvmet.").size())] = fo.value.front();
            continue;
        }
        // transport.NAME.key = value
        std::string rest = fo.string_key.substr(std::string("transport.").size());
        size_t dot = rest.find('.');
        if (dot == std::string::npos || fo.value.empty())
            return make_error(ErrorCode::InvalidArgument, "expected [transport.NAME] section keys", fo.string_key);
        o.transport_params[rest.substr(0, dot)][rest.substr(dot + 1)] = fo.value.front();
    }
    out.options = std::move(o);
    return out;
}

}  // namespace nvmfd::daemon
