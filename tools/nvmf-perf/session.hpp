// One benchmark run: resolve the subsystem (discovery), connect the
// controller and the I/O queues, run the phases on worker threads while the
// main thread keeps the association alive, and collect the results.
#pragma once

#include <string>

#include "tools/host/parse.hpp"
#include "tools/nvmf-perf/options.hpp"
#include "tools/nvmf-perf/stats.hpp"

namespace nvmfd::perf {

struct RunResult {
    PerfOptions options;  // as run: subnqn resolved, seed chosen
    host::NamespaceGeometry geometry;
    uint64_t region_bytes = 0;
    unsigned threads = 0;
    uint32_t io_queue_size = 0;  // entries per I/O queue, as connected
    RunStats stats;
    double measured_seconds = 0;
    double cpu_percent = 0;  // user+sys of this process over the measured window; 100 = one core
    std::string failure;     // set when a queue failed (protocol error, timeout, closed connection)

    // 0 success, 1 verify mismatch or I/O errors, 3 connection/protocol failure.
    int exit_code() const;
};

// Throws host::Error (setup failed) or std::invalid_argument (options that
// do not fit the target, e.g. --bs not a multiple of its block size).
RunResult run_benchmark(const PerfOptions& options);

}  // namespace nvmfd::perf
