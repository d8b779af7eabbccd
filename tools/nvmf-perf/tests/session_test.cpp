// nvmf-perf's engine in-process against the fake target: every workload
// runs clean with --verify, and corrupted read data fails the run.
#include <doctest/doctest.h>

#include "tools/host/tests/fake_target.hpp"
#include "tools/nvmf-perf/session.hpp"

using namespace nvmfd;
using namespace nvmfd::perf;
using host::testing::FakeTarget;
using host::testing::FakeTargetOptions;

namespace {

PerfOptions short_run(const FakeTarget& t) {
    PerfOptions o;
    o.port = t.port();
    o.time_s = 0.3;
    o.size = 4 << 20;
    o.kato_ms = 100;  // keep-alives get sent during the run
    return o;
}

}  // namespace

TEST_CASE("every workload verifies clean") {
    FakeTargetOptions fo;
    fo.namespace_bytes = 8 << 20;
    FakeTarget target(fo);
    for (Workload w : {Workload::Read, Workload::Write, Workload::RandRead, Workload::RandWrite, Workload::ReadWrite,
                       Workload::RandReadWrite}) {
        CAPTURE(workload_name(w));
        PerfOptions o = short_run(target);  // no subnqn: found by discovery
        o.workload = w;
        o.verify = true;
        o.queues = 2;
        o.threads = 1;
        o.queue_depth = 16;
        o.block_size = w == Workload::Read ? 65536 : 4096;
        RunResult r = run_benchmark(o);
        CHECK(r.failure == "");
        CHECK(r.exit_code() == 0);
        CHECK(r.stats.errors == 0);
        CHECK(r.stats.mismatches == 0);
        CHECK(r.stats.verified_blocks > 0);
        CHECK(r.stats.total().ios > 0);
        CHECK(r.options.subnqn == fo.subnqn);
    }
    CHECK(target.violations().empty());
}

TEST_CASE("digests, SUCCESS flag and one thread per queue") {
    FakeTarget target;
    PerfOptions o = short_run(target);
    o.subnqn = target.options().subnqn;
    o.header_digest = true;
    o.data_digest = true;
    o.disable_sq_flow_control = true;
    o.queues = 2;
    o.queue_depth = 8;
    o.verify = true;
    o.workload = Workload::RandReadWrite;
    RunResult r = run_benchmark(o);
    CHECK(r.exit_code() == 0);
    CHECK(r.stats.read.latency.count() == r.stats.read.ios);
    CHECK(r.stats.read.latency.percentile(50) > 0);
}

TEST_CASE("--like-spdk connects I/O queues of the controller's maximum size") {
    FakeTargetOptions fo;
    fo.mqes = 63;
    FakeTarget target(fo);
    PerfOptions o = short_run(target);
    o.queues = 2;
    o.queue_depth = 4;
    apply_like_spdk(o, false, false);
    RunResult r = run_benchmark(o);
    CHECK(r.exit_code() == 0);
    CHECK(r.io_queue_size == 64);
    CHECK(target.io_queue_sizes() == std::vector<uint32_t>{64, 64});
}

TEST_CASE("a corrupted read fails verify with exit code 1") {
    FakeTargetOptions fo;
    fo.fault = host::testing::Fault::CorruptReadData;
    FakeTarget target(fo);
    PerfOptions o = short_run(target);
    o.verify = true;
    o.workload = Workload::RandRead;
    RunResult r = run_benchmark(o);
    CHECK(r.stats.mismatches == 1);
    CHECK(r.exit_code() == 1);
    REQUIRE_FALSE(r.stats.messages.empty());
    CHECK(r.stats.messages[0].find("corrupt data") != std::string::npos);
}

TEST_CASE("a target that stops answering is a failure, not a hang") {
    FakeTargetOptions fo;
    fo.fault = host::testing::Fault::NoResponse;
    FakeTarget target(fo);
    PerfOptions o = short_run(target);
    o.timeout_ms = 300;
    RunResult r = run_benchmark(o);
    CHECK(r.exit_code() == 3);
    CHECK(r.failure.find("not completed within 300 ms") != std::string::npos);
}

TEST_CASE("options that do not fit the namespace are refused") {
    FakeTarget target;
    PerfOptions o = short_run(target);
    o.block_size = 2 << 20;  // above MDTS (1 MiB)
    CHECK_THROWS_AS(run_benchmark(o), std::invalid_argument);
}
