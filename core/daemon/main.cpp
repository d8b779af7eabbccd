// nvmfd: start the reactors, restore the exports, serve until SIGTERM or
// SIGINT, then stop accepting, drain in-flight commands and exit 0.
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <pthread.h>
#include <systemd/sd-daemon.h>

#include "core/control/control.hpp"
#include "core/daemon/management_bus.hpp"
#include "core/daemon/options.hpp"
#include "core/plugin/loader.hpp"
#include "core/runtime/log.hpp"
#include "lua/policy_manager.hpp"

using namespace nvmfd;

namespace {

int list_plugins(plugin::PluginLoader& loader) {
    auto found = loader.scan();
    if (found.empty()) std::cout << "no plugins in " << loader.directory().string() << "\n";
    for (auto& p : found) {
        if (p.descriptor)
            std::cout << fmt::format("{:<10} {:<8} {}  ({})\n",
                                     plugin::PluginLoader::kind_name(p.descriptor->kind),
                                     p.descriptor->name, p.descriptor->description, p.path.string());
        else
            std::cout << fmt::format("{:<10} {:<8} {}\n", "broken", "-", p.error);
    }
    return 0;
}

control::ExportSpec default_export(const daemon::Options& o) {
    control::ExportSpec spec;
    control::SubsystemSpec s;
    s.nqn = o.default_nqn;
    s.allow_any_host = true;
    control::NamespaceSpec ns;
    ns.nsid = 1;
    ns.backend = "malloc";
    ns.params = {{"size", o.default_size}};
    s.namespaces.push_back(ns);
    spec.subsystems.push_back(s);
    control::PortSpec p;
    p.id = 1;
    p.transport = "tcp";
    p.family = o.listen.family;
    p.address = o.listen.address;
    p.service = o.listen.service;
    p.subsystems = {o.default_nqn};
    spec.ports.push_back(p);
    return spec;
}

// Keep systemd's watchdog fed from the control loop: if this loop hangs,
// systemd restarts us.
void arm_watchdog(boost::asio::steady_timer& timer, std::chrono::microseconds period) {
    timer.expires_after(period);
    timer.async_wait([&timer, period](const boost::system::error_code& ec) {
        if (ec) return;
        sd_notify(0, "WATCHDOG=1");
        arm_watchdog(timer, period);
    });
}

}  // namespace

int main(int argc, char** argv) {
    auto parsed = daemon::parse_options(argc, argv);
    if (!parsed) {
        std::cerr << "nvmfd: " << parsed.error().describe() << "\n(try nvmfd --help)\n";
        return 2;
    }
    if (!parsed->options) return parsed->exit_code;
    daemon::Options& opt = *parsed->options;
    log::set_level(opt.log_level);

    plugin::PluginLoader loader(opt.plugin_dir);
    if (opt.list_plugins) return list_plugins(loader);

    // Reactor threads inherit this mask, so the termination signals are
    // handled on the control thread only.
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

    runtime::ReactorGroup reactors(opt.reactors, opt.reactor, opt.cpus);
    target::Target target(reactors, opt.target);
    reactors.start();
    target.set_reactors_running(true);

    sigdelset(&sigs, SIGPIPE);
    pthread_sigmask(SIG_UNBLOCK, &sigs, nullptr);

    int rc = 0;
    // The control thread's loop: signals, the watchdog, D-Bus, and events
    // from reactors (controller connect/disconnect) posted to it. It
    // outlives the Control, so events posted during shutdown are dropped
    // with it rather than run against a Control that is gone.
    boost::asio::io_context io;
    {
        control::Control control(target, loader, control::ControlOptions{opt.state_file, opt.transport_params, false, opt.kernel_params});
        control.set_executor([&io](std::function<void()> f) { boost::asio::post(io, std::move(f)); });
        // Ports listen only once the policies ran on_start (below): a gateway
        // of a group shows hosts the ANA states its failover policy decides,
        // not the ones it had when it died, and no Connect slips past an
        // on_host_connect. Admissions wait for the policies too (a second
        // guard: a port added before they are back).
        control.hold_listeners();
        lua::PolicyLimits limits;
        limits.memory_bytes = opt.policy.memory_bytes;
        limits.instructions = opt.policy.instructions;
        limits.time_budget = opt.policy.time_budget;
        lua::PolicyManager policies(io, control, limits);
        policies.hold_admissions_until_restored();
        auto loaded = control.load_state();
        if (!loaded) {
            log::error("{}", loaded.error().describe());
            sd_notifyf(0, "STATUS=cannot start: %s", loaded.error().message.c_str());
            rc = 1;
        } else if (!*loaded && opt.default_export) {
            log::info("no saved state{}; serving the default export {} on {}:{}",
                      opt.state_file ? " in " + opt.state_file->string() : "", opt.default_nqn, opt.listen.address,
                      opt.listen.service);
            auto applied = control.apply(default_export(opt));
            if (!applied) {
                log::error("default export: {}", applied.error().describe());
                rc = 1;
            }
        }
        // Policies run on this thread, after the exports are up (their
        // on_start sees the restored state); a broken one is logged and
        // skipped, never a reason not to serve.
        if (rc == 0) policies.restore();
        control.release_listeners();
        for (auto& o : control.offline()) log::warn("offline: {}: {}", o.what, o.reason);

        // After the exports are restored: a client that sees the bus name
        // sees the restored state.
        daemon::ManagementBus bus(io, control, opt);
        bus.set_policies(&policies);
        policies.set_error_callback([&bus](const lua::PolicyError& e) {
            bus.emit_policy_error(e.policy, fmt::format("{}: {}", e.handler, e.message));
        });
        if (rc == 0 && !bus.start()) rc = 1;

        if (rc == 0) {
            boost::asio::signal_set signals(io, SIGTERM, SIGINT);
            signals.async_wait([&](const boost::system::error_code& ec, int sig) {
                if (ec) return;
                log::notice("signal {}: stopping", sig);
                io.stop();
            });
            boost::asio::steady_timer watchdog(io);
            uint64_t watchdog_usec = 0;
            if (sd_watchdog_enabled(0, &watchdog_usec) > 0)
                arm_watchdog(watchdog, std::chrono::microseconds(watchdog_usec / 2));
            sd_notifyf(0, "READY=1\nSTATUS=serving %zu subsystem(s)%s", control.export_spec().subsystems.size(),
                       bus.serving() ? fmt::format("; managed as {} on the {} bus", opt.dbus_name, opt.bus).c_str()
                                     : "");
            log::notice("nvmfd {} ready ({} reactor{})", NVMFD_VERSION, opt.reactors, opt.reactors == 1 ? "" : "s");
            io.run();
            sd_notify(0, "STOPPING=1\nSTATUS=draining");
        }
        // No more management calls: release the bus name first, so that a
        // new nvmfd can take it while this one drains.
        bus.stop();
        policies.set_error_callback({});
        // Stop accepting, close connections after their in-flight commands finish.
        control.shutdown();
    }
    reactors.stop();
    log::notice("nvmfd stopped");
    return rc;
}
