// The load on one I/O queue: `depth` command contexts, each resubmitted from
// its own completion, with preallocated buffers and no allocation per I/O.
// In verify mode a job owns its stripe of the namespace, never has two
// commands on the same unit in flight, and knows the generation last
// written to each unit, so every read has exactly one right answer.
#pragma once

#include <atomic>
#include <cstdint>
#include <span>
#include <vector>

#include "tools/host/io_queue.hpp"
#include "tools/nvmf-perf/options.hpp"
#include "tools/nvmf-perf/stats.hpp"

namespace nvmfd::perf {

using Clock = host::Clock;

struct JobConfig {
    Workload workload = Workload::RandRead;
    unsigned rwmixread = 50;
    uint32_t io_size = 4096;
    uint32_t lba_size = 512;
    uint32_t nsid = 1;
    bool verify = false;
    uint64_t seed = 1;
};

enum class Phase {
    Prefill,   // verify: write every unit of the stripe once, before reads are measured
    Timed,     // the measured workload
    ReadBack,  // verify after a write-only workload: read every written unit
};

class QueueJob {
public:
    // Units are I/O-sized chunks: unit u covers LBAs u * io_size / lba_size onward.
    QueueJob(host::IoQueue io, const JobConfig& config, uint64_t first_unit, uint64_t units, uint64_t rng_seed,
             std::atomic<bool>& abort);
    QueueJob(const QueueJob&) = delete;
    QueueJob& operator=(const QueueJob&) = delete;

    host::Queue& queue() { return io_.queue(); }
    // Submits the first commands of a phase; measure_* matter for Timed only.
    void begin(Phase phase, Clock::time_point measure_start, Clock::time_point measure_end);
    bool active() const { return in_flight_ > 0; }
    const RunStats& stats() const { return stats_; }

private:
    struct Context {
        std::span<std::byte> buffer;
        Clock::time_point submitted;
        uint64_t unit = 0;
        uint32_t generation = 0;
        bool write = false;
    };

    void submit(Context& context, Clock::time_point now);
    bool pick(Context& context);
    uint64_t pick_unit();
    void on_complete(Context& context, const host::Completion& completion);
    uint64_t next_random() {
        rng_ ^= rng_ << 13;
        rng_ ^= rng_ >> 7;
        rng_ ^= rng_ << 17;
        return rng_;
    }

    host::IoQueue io_;
    JobConfig config_;
    uint64_t first_unit_;
    uint64_t units_;
    uint32_t blocks_per_io_;
    std::atomic<bool>& abort_;
    std::vector<std::byte> buffers_;
    std::vector<Context> contexts_;
    std::vector<uint32_t> generations_;  // verify: last completed write per unit, 0 = never written
    std::vector<uint8_t> busy_;          // verify: a command on this unit is in flight
    uint64_t rng_;
    uint64_t cursor_ = 0;
    uint32_t in_flight_ = 0;
    Phase phase_ = Phase::Timed;
    bool stopping_ = false;
    Clock::time_point measure_start_{};
    Clock::time_point measure_end_{};
    RunStats stats_;
};

// Drives the jobs of one thread through a phase until none has work left.
// Throws what a queue throws (protocol error, timeout, closed connection).
void drive(std::span<QueueJob* const> jobs, Phase phase, Clock::time_point measure_start,
           Clock::time_point measure_end, bool busy_poll, std::atomic<bool>& abort);

}  // namespace nvmfd::perf
