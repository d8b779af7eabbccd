#include "tools/nvmf-perf/report.hpp"

#include <fmt/format.h>

namespace nvmfd::perf {

namespace {

double iops(const OpStats& s, double seconds) { return seconds > 0 ? double(s.ios) / seconds : 0; }
double mib_per_s(const OpStats& s, double seconds) { return seconds > 0 ? double(s.bytes) / seconds / (1 << 20) : 0; }
double us(uint64_t ns) { return double(ns) / 1000.0; }

std::string size_text(uint64_t bytes) {
    if (bytes % (1 << 20) == 0) return fmt::format("{} MiB", bytes >> 20);
    if (bytes % 1024 == 0) return fmt::format("{} KiB", bytes >> 10);
    return fmt::format("{} B", bytes);
}

void print_op(std::FILE* out, const char* name, const OpStats& s, double seconds) {
    const LatencyHistogram& h = s.latency;
    fmt::print(out, "{:<6} IOPS {:>10.0f}  MiB/s {:>9.2f}  lat (us) mean {:.1f} p50 {:.1f} p99 {:.1f} p99.9 {:.1f} max {:.1f}\n",
               name, iops(s, seconds), mib_per_s(s, seconds), h.mean() / 1000.0, us(h.percentile(50)),
               us(h.percentile(99)), us(h.percentile(99.9)), us(h.max()));
}

nlohmann::json op_json(const OpStats& s, double seconds) {
    const LatencyHistogram& h = s.latency;
    return {
        {"ios", s.ios},
        {"bytes", s.bytes},
        {"iops", iops(s, seconds)},
        {"mib_per_s", mib_per_s(s, seconds)},
        {"latency_us",
         {{"mean", h.mean() / 1000.0},
          {"min", us(h.min())},
          {"p50", us(h.percentile(50))},
          {"p90", us(h.percentile(90))},
          {"p99", us(h.percentile(99))},
          {"p99_9", us(h.percentile(99.9))},
          {"max", us(h.max())}}},
    };
}

}  // namespace

void print_text(const RunResult& r, std::FILE* out) {
    const PerfOptions& o = r.options;
    fmt::print(out, "nvmf-perf: {} bs {} qd {} x {} queue(s), {} thread(s), {} s measured after {} s ramp{}\n",
               workload_name(o.workload), size_text(o.block_size), o.queue_depth, o.queues, r.threads, o.time_s,
               o.ramp_s, o.verify ? ", verify" : "");
    fmt::print(out, "target: {}:{} {} nsid {} ({} blocks of {} B, {} used), digests header {} data {}\n", o.address,
               o.port, o.subnqn, o.nsid, r.geometry.blocks, r.geometry.block_size, size_text(r.region_bytes),
               o.header_digest ? "on" : "off", o.data_digest ? "on" : "off");
    fmt::print(out, "host: {}{}, SQ flow control {}, host NQN {}, I/O queues of {} entries\n",
               o.like_spdk ? "like spdk_nvme_perf: " : "", o.busy_poll ? "busy polling" : "poll(2)",
               o.disable_sq_flow_control ? "disabled" : "enabled", o.empty_hostnqn ? "empty" : "sent", r.io_queue_size);
    if (r.stats.read.ios) print_op(out, "read", r.stats.read, r.measured_seconds);
    if (r.stats.write.ios) print_op(out, "write", r.stats.write, r.measured_seconds);
    if (r.stats.read.ios && r.stats.write.ios) print_op(out, "total", r.stats.total(), r.measured_seconds);
    fmt::print(out, "cpu: {:.0f}% of one core (user+sys of nvmf-perf over the measured time)\n", r.cpu_percent);
    fmt::print(out, "errors: {}\n", r.stats.errors);
    if (o.verify)
        fmt::print(out, "verify: {} blocks checked, {} mismatching I/Os (seed {:#x})\n", r.stats.verified_blocks,
                   r.stats.mismatches, o.seed);
    for (const std::string& m : r.stats.messages) fmt::print(out, "  {}\n", m);
    if (!r.failure.empty()) fmt::print(out, "FAILED: {}\n", r.failure);
}

nlohmann::json to_json(const RunResult& r) {
    const PerfOptions& o = r.options;
    nlohmann::json j = {
        {"target",
         {{"address", o.address}, {"port", o.port}, {"subnqn", o.subnqn}, {"nsid", o.nsid},
          {"blocks", r.geometry.blocks}, {"block_size", r.geometry.block_size}}},
        {"workload", workload_name(o.workload)},
        {"bs", o.block_size},
        {"qd", o.queue_depth},
        {"queues", o.queues},
        {"threads", r.threads},
        {"time_s", o.time_s},
        {"ramp_s", o.ramp_s},
        {"region_bytes", r.region_bytes},
        {"header_digest", o.header_digest},
        {"data_digest", o.data_digest},
        {"host",
         {{"like_spdk", o.like_spdk}, {"busy_poll", o.busy_poll}, {"sq_flow_control", !o.disable_sq_flow_control},
          {"empty_hostnqn", o.empty_hostnqn}, {"io_queue_size", r.io_queue_size}}},
        {"total", op_json(r.stats.total(), r.measured_seconds)},
        {"read", op_json(r.stats.read, r.measured_seconds)},
        {"write", op_json(r.stats.write, r.measured_seconds)},
        {"cpu_percent", r.cpu_percent},
        {"errors", r.stats.errors},
        {"messages", r.stats.messages},
        {"exit_code", r.exit_code()},
    };
    if (o.verify) j["verify"] = {{"seed", o.seed}, {"blocks", r.stats.verified_blocks}, {"mismatches", r.stats.mismatches}};
    if (!r.failure.empty()) j["failure"] = r.failure;
    return j;
}

void print_markdown_table(const std::vector<RunResult>& results, std::FILE* out) {
    fmt::print(out, "| workload | bs | QD | queues | IOPS | MiB/s | p50 (µs) | p99 (µs) |\n");
    fmt::print(out, "|---|---|---:|---:|---:|---:|---:|---:|\n");
    for (const RunResult& r : results) {
        OpStats t = r.stats.total();
        fmt::print(out, "| {} | {} | {} | {} | {:.0f} | {:.1f} | {:.1f} | {:.1f} |{}\n", workload_name(r.options.workload),
                   size_text(r.options.block_size), r.options.queue_depth, r.options.queues, iops(t, r.measured_seconds),
                   mib_per_s(t, r.measured_seconds), us(t.latency.percentile(50)), us(t.latency.percentile(99)),
                   r.failure.empty() && r.stats.errors == 0 ? "" : " (errors)");
    }
}

}  // namespace nvmfd::perf
