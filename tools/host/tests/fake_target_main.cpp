// nvmf-fake-target: the host tests' fake target as a process, to try the
// host library or nvmf-perf without a real target. Not a product.
#include <boost/program_options.hpp>
#include <csignal>
#include <fmt/format.h>
#include <iostream>

#include "tools/host/tests/fake_target.hpp"

namespace po = boost::program_options;

int main(int argc, char** argv) {
    nvmfd::host::testing::FakeTargetOptions o;
    uint16_t port = 4420;
    uint64_t namespace_mib = 64;
    unsigned cpda = 0;
    po::options_description desc("nvmf-fake-target options");
    desc.add_options()("help,h", "this help")("port", po::value(&port)->default_value(port), "TCP port on 127.0.0.1")(
        "subnqn", po::value(&o.subnqn)->default_value(o.subnqn), "subsystem NQN")(
        "namespace-mib", po::value(&namespace_mib)->default_value(namespace_mib), "RAM namespace size")(
        "block-size", po::value(&o.block_size)->default_value(o.block_size), "logical block size")(
        "cpda", po::value(&cpda)->default_value(0), "CPDA in ICResp")(
        "maxh2cdata", po::value(&o.maxh2cdata)->default_value(o.maxh2cdata), "MAXH2CDATA in ICResp")(
        "c2h-chunk", po::value(&o.c2h_chunk)->default_value(o.c2h_chunk), "bytes per C2HData PDU")(
        "in-capsule", po::value(&o.in_capsule_bytes)->default_value(o.in_capsule_bytes), "in-capsule data bytes");
    po::variables_map vm;
    try {
        po::store(po::parse_command_line(argc, argv, desc), vm);
        po::notify(vm);
    } catch (const std::exception& e) {
        fmt::print(stderr, "nvmf-fake-target: {}\n", e.what());
        return 2;
    }
    if (vm.count("help")) {
        std::cout << desc << "\n";
        return 0;
    }
    o.namespace_bytes = namespace_mib << 20;
    o.cpda = static_cast<uint8_t>(cpda);
    nvmfd::host::testing::FakeTarget target(o, port);
    fmt::print("nvmf-fake-target: {} on 127.0.0.1:{}\n", o.subnqn, target.port());
    std::fflush(stdout);
    target.wait();
    return 0;
}
