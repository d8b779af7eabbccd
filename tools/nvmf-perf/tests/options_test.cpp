#include <doctest/doctest.h>
#include <stdexcept>
#include <string>
#include <vector>

#include "tools/nvmf-perf/options.hpp"

using namespace nvmfd::perf;

namespace {

std::optional<int> parse(std::vector<std::string> args, PerfOptions& o) {
    args.insert(args.begin(), "nvmf-perf");
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    return parse_options(static_cast<int>(argv.size()), argv.data(), o);
}

}  // namespace

TEST_CASE("sizes with suffixes") {
    CHECK(parse_size("4096") == 4096);
    CHECK(parse_size("4k") == 4096);
    CHECK(parse_size("128K") == 131072);
    CHECK(parse_size("1m") == 1u << 20);
    CHECK(parse_size("2GiB") == 2ull << 30);
    CHECK_THROWS_AS(parse_size("4q"), std::invalid_argument);
}

TEST_CASE("command line") {
    PerfOptions o;
    CHECK_FALSE(parse({"-a", "::1", "--port", "4421", "-w", "randrw", "--rwmixread", "70", "--bs", "8k", "--qd", "64",
                       "--queues", "4", "--threads", "2", "--verify", "--hdgst", "--ddgst", "--json"},
                      o));
    CHECK(o.address == "::1");
    CHECK(o.port == 4421);
    CHECK(o.workload == Workload::RandReadWrite);
    CHECK(o.rwmixread == 70);
    CHECK(o.block_size == 8192);
    CHECK(o.queue_depth == 64);
    CHECK(o.queues == 4);
    CHECK(o.threads == 2);
    CHECK(o.verify);
    CHECK(o.header_digest);
    CHECK(o.data_digest);
    CHECK(o.json);

    PerfOptions bad;
    CHECK(parse({"--workload", "sideways"}, bad) == 2);
    CHECK(parse({"--bs", "1000"}, bad) == 2);
    CHECK(parse({"--queues", "1", "--threads", "2"}, bad) == 2);
    CHECK(parse({"--qd", "0"}, bad) == 2);
}

TEST_CASE("defaults keep SQ flow control and poll(2), with a host NQN") {
    PerfOptions o;
    CHECK_FALSE(parse({}, o));
    CHECK_FALSE(o.disable_sq_flow_control);
    CHECK_FALSE(o.busy_poll);
    CHECK_FALSE(o.empty_hostnqn);
    CHECK_FALSE(o.like_spdk);
    CHECK(o.threads == 0);
}

TEST_CASE("--like-spdk: busy polling, an empty host NQN, a thread per queue, SQ flow control kept") {
    PerfOptions o;
    CHECK_FALSE(parse({"--like-spdk", "--queues", "2"}, o));
    CHECK(o.like_spdk);
    CHECK(o.busy_poll);
    CHECK(o.empty_hostnqn);
    CHECK(o.hostnqn.empty());
    CHECK_FALSE(o.disable_sq_flow_control);
    CHECK(o.threads == 2);

    PerfOptions named;  // hostnqn: given, so it is sent
    CHECK_FALSE(parse({"--like-spdk", "--hostnqn", "nqn.2014-08.org.example:h1"}, named));
    CHECK_FALSE(named.empty_hostnqn);
    CHECK(named.hostnqn == "nqn.2014-08.org.example:h1");

    PerfOptions same;  // --threads equal to --queues says the same thing
    CHECK_FALSE(parse({"--like-spdk", "--queues", "2", "--threads", "2"}, same));

    PerfOptions bad;
    CHECK(parse({"--like-spdk", "--disable-sqflow"}, bad) == 2);
    CHECK(parse({"--like-spdk", "--queues", "2", "--threads", "1"}, bad) == 2);
    CHECK(parse({"--like-spdk", "--tls-psk", "NVMeTLSkey-1:01:x:"}, bad) == 2);
}

TEST_CASE("the separate switches alone") {
    PerfOptions o;
    CHECK_FALSE(parse({"--busy-poll", "--disable-sqflow", "--empty-hostnqn"}, o));
    CHECK(o.busy_poll);
    CHECK(o.disable_sq_flow_control);
    CHECK(o.empty_hostnqn);
    CHECK_FALSE(o.like_spdk);

    PerfOptions bad;
    CHECK(parse({"--empty-hostnqn", "--hostnqn", "nqn.2014-08.org.example:h1"}, bad) == 2);
    CHECK(parse({"--empty-hostnqn", "--dhchap-secret", "DHHC-1:00:x:"}, bad) == 2);
}

TEST_CASE("--io-queue-size: --qd + 1 by default, a number, or the controller's maximum") {
    PerfOptions o;
    CHECK_FALSE(parse({"--qd", "32"}, o));
    CHECK(o.io_queue_size == 0);
    CHECK(io_queue_entries(o, 1023) == 33);
    CHECK_THROWS_AS(io_queue_entries(o, 15), std::invalid_argument);  // 33 entries, CAP.MQES + 1 = 16

    PerfOptions sized;
    CHECK_FALSE(parse({"--qd", "1", "--io-queue-size", "128"}, sized));
    CHECK(io_queue_entries(sized, 1023) == 128);
    CHECK_THROWS_AS(io_queue_entries(sized, 63), std::invalid_argument);

    PerfOptions largest;
    CHECK_FALSE(parse({"--io-queue-size", "max"}, largest));
    CHECK(io_queue_entries(largest, 1023) == 1024);
    CHECK_THROWS_AS(io_queue_entries(largest, 15), std::invalid_argument);  // --qd 32 does not fit 16

    PerfOptions spdk;  // spdk_nvme_perf asks for the controller's maximum
    CHECK_FALSE(parse({"--like-spdk"}, spdk));
    CHECK(io_queue_entries(spdk, 1023) == 1024);
    PerfOptions spdk_sized;
    CHECK_FALSE(parse({"--like-spdk", "--io-queue-size", "64"}, spdk_sized));
    CHECK(spdk_sized.io_queue_size == 64);

    PerfOptions bad;
    CHECK(parse({"--io-queue-size", "1"}, bad) == 2);
    CHECK(parse({"--io-queue-size", "65537"}, bad) == 2);
    CHECK(parse({"--io-queue-size", "lots"}, bad) == 2);
    CHECK(parse({"--io-queue-size", "32k"}, bad) == 2);
    CHECK(parse({"--qd", "32", "--io-queue-size", "32"}, bad) == 2);  // holds 31 commands
}
