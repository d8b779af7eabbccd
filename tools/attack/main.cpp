// nvmf-attack: hostile hosts for benchmarks (tools/bench/hostile-hosts.sh)
// and tests. Sets its attack up, prints "ready", runs until SIGINT or
// SIGTERM, then prints what it did.
//
//   nvmf-attack flood     -a 127.0.0.1 -p 4420 --source 127.0.0.2 [--rate 1000] [--count 200]
//   nvmf-attack auth      -a 127.0.0.1 -p 4420 -n SUBNQN --hostnqn KEYED_HOST [--dh-group ffdhe8192] [--count 4]
//   nvmf-attack slowloris -a 127.0.0.1 -p 4420 --source 127.0.0.3 [--count 100] [--interval-ms 100]
//   nvmf-attack idle      -a 127.0.0.1 -p 4420 [--count 1000]
#include <boost/program_options.hpp>
#include <csignal>
#include <cstdio>
#include <fmt/format.h>
#include <iostream>
#include <thread>

#include "core/auth/crypto.hpp"
#include "tools/attack/auth_flood.hpp"
#include "tools/attack/connection_flood.hpp"
#include "tools/attack/idle_controllers.hpp"
#include "tools/attack/slow_loris.hpp"
#include "tools/host/errors.hpp"

using namespace nvmfd::attack;
namespace po = boost::program_options;

namespace {

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

void wait_for_signal() {
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
    std::fflush(stdout);
    while (!g_stop) std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

}  // namespace

int main(int argc, char** argv) {
    po::options_description opts("nvmf-attack MODE [options]; MODE is flood, slowloris, idle or auth");
    // clang-format off
    opts.add_options()
        ("help,h", "show this help")
        ("mode", po::value<std::string>(), "flood, slowloris, idle or auth")
        ("address,a", po::value<std::string>()->default_value("127.0.0.1"), "target address")
        ("port,p", po::value<uint16_t>()->default_value(4420), "target port")
        ("source", po::value<std::string>()->default_value(""), "local address to connect from (flood, slowloris)")
        ("subnqn,n", po::value<std::string>()->default_value("nqn.2026-11.io.nvmfd:default"), "subsystem to connect to (slowloris, idle, auth)")
        ("hostnqn", po::value<std::string>()->default_value(""), "auth: a host NQN the subsystem holds a DH-HMAC-CHAP secret for")
        ("dh-group", po::value<std::string>()->default_value("ffdhe8192"), "auth: the only DH group offered")
        ("count", po::value<unsigned>(), "flood: connections held half open (200); slowloris: connections (100); idle: controllers (1000); auth: rounds at once (4)")
        ("rate", po::value<unsigned>()->default_value(1000), "flood: new connections per second")
        ("interval-ms", po::value<unsigned>()->default_value(100), "slowloris: milliseconds between two bytes of one connection");
    // clang-format on
    po::positional_options_description positional;
    positional.add("mode", 1);
    po::variables_map vm;
    try {
        po::store(po::command_line_parser(argc, argv).options(opts).positional(positional).run(), vm);
        po::notify(vm);
    } catch (const po::error& e) {
        fmt::print(stderr, "nvmf-attack: {}\n", e.what());
        return 2;
    }
    if (vm.count("help") || !vm.count("mode")) {
        std::cout << opts << "\n";
        return vm.count("help") ? 0 : 2;
    }
    raise_open_file_limit();
    AttackTarget target{vm["address"].as<std::string>(), vm["port"].as<uint16_t>(), vm["source"].as<std::string>(),
                        vm["subnqn"].as<std::string>()};
    std::string mode = vm["mode"].as<std::string>();
    auto count = [&](unsigned fallback) { return vm.count("count") ? vm["count"].as<unsigned>() : fallback; };
    try {
        if (mode == "flood") {
            ConnectionFlood flood({target, vm["rate"].as<unsigned>(), count(200)});
            fmt::print("ready\n");
            wait_for_signal();
            FloodStats s = flood.stats();
            flood.stop();
            fmt::print("flood: {} connections, {} reset or failed while connecting, {} held ones closed by the target, {} held at the end\n",
                       s.connections, s.failed, s.closed_by_target, s.held);
        } else if (mode == "slowloris") {
            SlowLoris loris({target, count(100), std::chrono::milliseconds(vm["interval-ms"].as<unsigned>())});
            loris.wait_ready(std::chrono::seconds(60));
            fmt::print("ready\n");
            wait_for_signal();
            SlowLorisStats s = loris.stats();
            loris.stop();
            fmt::print("slowloris: {} open ({} past Connect), {} bytes trickled, {} reopened, {} failures\n", s.open,
                       s.connected, s.bytes, s.reopened, s.failures);
        } else if (mode == "idle") {
            IdleControllers idle({{target.address, target.port}, target.subnqn, count(1000)});
            fmt::print("ready\n");
            wait_for_signal();
            fmt::print("idle: {} controllers connected in {:.1f} s, {} alive at the end\n", idle.size(),
                       idle.setup_time().count(), idle.alive());
        } else if (mode == "auth") {
            auto group = nvmfd::auth::dh_group_by_name(vm["dh-group"].as<std::string>());
            if (!group || vm["hostnqn"].as<std::string>().empty()) {
                fmt::print(stderr, "nvmf-attack: auth needs --hostnqn and a --dh-group from null, ffdhe2048..ffdhe8192\n");
                return 2;
            }
            AuthFlood flood({{target.address, target.port}, target.subnqn, vm["hostnqn"].as<std::string>(), *group,
                             count(4)});
            fmt::print("ready\n");
            wait_for_signal();
            flood.stop();
            AuthFloodStats s = flood.stats();
            fmt::print("auth: {} rounds ended in FAILURE1 ({} DH operations on the target), {} failed otherwise\n",
                       s.rounds, 2 * s.rounds, s.failures);
        } else {
            fmt::print(stderr, "nvmf-attack: mode '{}' is not flood, slowloris, idle or auth\n", mode);
            return 2;
        }
    } catch (const nvmfd::host::Error& e) {
        fmt::print(stderr, "nvmf-attack: {}\n", e.what());
        return 3;
    }
    return 0;
}
