// nvmf-perf: NVMe/TCP load generator on the nvmfd host library.
#include <cstdio>
#include <fmt/format.h>
#include <stdexcept>
#include <vector>

#include "tools/host/errors.hpp"
#include "tools/nvmf-perf/options.hpp"
#include "tools/nvmf-perf/report.hpp"
#include "tools/nvmf-perf/session.hpp"

using namespace nvmfd::perf;

namespace {

// The benchmark matrix: 4 KiB random reads at QD 1, 32, 128 and 128 KiB
// sequential reads at QD 32, each a separate association.
int run_table(const PerfOptions& base) {
    struct Case {
        Workload workload;
        uint32_t bs;
        uint16_t qd;
    };
    const Case cases[] = {{Workload::RandRead, 4096, 1},
                          {Workload::RandRead, 4096, 32},
                          {Workload::RandRead, 4096, 128},
                          {Workload::Read, 128 * 1024, 32}};
    std::vector<RunResult> results;
    int exit_code = 0;
    for (const Case& c : cases) {
        PerfOptions o = base;
        o.workload = c.workload;
        o.block_size = c.bs;
        o.queue_depth = c.qd;
        o.verify = false;
        results.push_back(run_benchmark(o));
        if (!base.json) print_text(results.back(), stderr);
        exit_code = std::max(exit_code, results.back().exit_code());
    }
    if (base.json) {
        nlohmann::json all = nlohmann::json::array();
        for (const RunResult& r : results) all.push_back(to_json(r));
        fmt::print("{}\n", all.dump(2));
    } else {
        print_markdown_table(results, stdout);
    }
    return exit_code;
}

}  // namespace

int main(int argc, char** argv) {
    PerfOptions options;
    if (auto stop = parse_options(argc, argv, options)) return *stop;
    try {
        if (options.table) return run_table(options);
        RunResult result = run_benchmark(options);
        if (options.json)
            fmt::print("{}\n", to_json(result).dump(2));
        else
            print_text(result, stdout);
        return result.exit_code();
    } catch (const std::invalid_argument& e) {
        fmt::print(stderr, "nvmf-perf: {}\n", e.what());
        return 2;
    } catch (const nvmfd::host::Error& e) {
        fmt::print(stderr, "nvmf-perf: {}\n", e.what());
        return 3;
    } catch (const std::exception& e) {
        fmt::print(stderr, "nvmf-perf: {}\n", e.what());
        return 3;
    }
}
