#include "tools/nvmf-perf/queue_job.hpp"

#include <algorithm>
#include <fmt/format.h>

#include "core/proto/status.hpp"
#include "tools/host/commands.hpp"
#include "tools/nvmf-perf/pattern.hpp"

namespace nvmfd::perf {

QueueJob::QueueJob(host::IoQueue io, const JobConfig& config, uint64_t first_unit, uint64_t units, uint64_t rng_seed,
                   std::atomic<bool>& abort)
    : io_(std::move(io)),
      config_(config),
      first_unit_(first_unit),
      units_(units),
      blocks_per_io_(config.io_size / config.lba_size),
      abort_(abort),
      rng_(rng_seed | 1) {
    // Verify needs a distinct unit per command in flight.
    size_t depth = io_.queue().depth();
    if (config_.verify) depth = std::min<uint64_t>(depth, units_);
    buffers_.resize(depth * size_t(config_.io_size));
    contexts_.resize(depth);
    for (size_t i = 0; i < depth; ++i)
        contexts_[i].buffer = std::span(buffers_).subspan(i * config_.io_size, config_.io_size);
    if (config_.verify) {
        generations_.assign(units_, 0);
        busy_.assign(units_, 0);
    } else {
        // Write data that is not all zeroes, so that no layer can shortcut it.
        fill_pattern(buffers_, config_.lba_size, 0, config_.seed, 0);
    }
}

void QueueJob::begin(Phase phase, Clock::time_point measure_start, Clock::time_point measure_end) {
    phase_ = phase;
    measure_start_ = measure_start;
    measure_end_ = measure_end;
    stopping_ = false;
    cursor_ = 0;
    Clock::time_point now = Clock::now();
    for (Context& c : contexts_) submit(c, now);
}

uint64_t QueueJob::pick_unit() {
    if (workload_random(config_.workload)) {
        uint64_t unit = next_random() % units_;
        if (!config_.verify) return unit;
        for (int attempt = 0; attempt < 8 && busy_[unit]; ++attempt) unit = next_random() % units_;
        while (busy_[unit]) unit = (unit + 1) % units_;  // in flight < units_, so this ends
        return unit;
    }
    uint64_t unit = cursor_++ % units_;
    if (config_.verify)
        while (busy_[unit]) unit = cursor_++ % units_;
    return unit;
}

bool QueueJob::pick(Context& c) {
    if (abort_.load(std::memory_order_relaxed)) return false;
    switch (phase_) {
    case Phase::Prefill:
        if (cursor_ >= units_) return false;
        c.unit = cursor_++;
        c.write = true;
        return true;
    case Phase::ReadBack:
        while (cursor_ < units_ && generations_[cursor_] == 0) ++cursor_;
        if (cursor_ >= units_) return false;
        c.unit = cursor_++;
        c.write = false;
        return true;
    case Phase::Timed:
        if (stopping_) return false;
        switch (config_.workload) {
        case Workload::Read:
        case Workload::RandRead: c.write = false; break;
        case Workload::Write:
        case Workload::RandWrite: c.write = true; break;
        case Workload::ReadWrite:
        case Workload::RandReadWrite: c.write = next_random() % 100 >= config_.rwmixread; break;
        }
        c.unit = pick_unit();
        return true;
    }
    return false;
}

void QueueJob::submit(Context& c, Clock::time_point now) {
    if (!pick(c)) return;
    uint64_t lba = (first_unit_ + c.unit) * blocks_per_io_;
    if (config_.verify) {
        busy_[c.unit] = 1;
        if (c.write) {
            c.generation = generations_[c.unit] + 1;
            if (c.generation == 0) c.generation = 1;  // 0 means "never written"
            fill_pattern(c.buffer, config_.lba_size, lba, config_.seed, c.generation);
        }
    }
    auto callback = [this, &c](const host::Completion& completion) { on_complete(c, completion); };
    if (c.write)
        io_.queue().submit(host::cmd::write(config_.nsid, lba, blocks_per_io_), host::Transfer::to_controller(c.buffer),
                           callback);
    else
        io_.queue().submit(host::cmd::read(config_.nsid, lba, blocks_per_io_), host::Transfer::from_controller(c.buffer),
                           callback);
    c.submitted = now;
    ++in_flight_;
}

void QueueJob::on_complete(Context& c, const host::Completion& completion) {
    Clock::time_point now = Clock::now();
    --in_flight_;
    uint64_t lba = (first_unit_ + c.unit) * blocks_per_io_;
    if (!completion.status.ok()) {
        ++stats_.errors;
        stats_.note(fmt::format("queue {}: {} of LBA {} ({} blocks) failed: {} (status {:#x})", io_.qid(),
                                c.write ? "write" : "read", lba, blocks_per_io_, proto::status_name(completion.status),
                                completion.status.value & 0x7ff));
    } else if (config_.verify) {
        if (c.write) {
            generations_[c.unit] = c.generation;
        } else if (uint32_t expected = generations_[c.unit]; expected != 0) {
            auto mismatch = check_pattern(c.buffer, config_.lba_size, lba, config_.seed, expected);
            stats_.verified_blocks += blocks_per_io_;
            if (mismatch) {
                ++stats_.mismatches;
                stats_.note(fmt::format("queue {}: verify of LBA {} failed: {}", io_.qid(), mismatch->lba,
                                        mismatch->what));
            }
        }
    }
    if (config_.verify) busy_[c.unit] = 0;

    if (phase_ == Phase::Timed) {
        if (now >= measure_end_) stopping_ = true;
        if (completion.status.ok() && now >= measure_start_ && now < measure_end_) {
            OpStats& op = c.write ? stats_.write : stats_.read;
            ++op.ios;
            op.bytes += config_.io_size;
            op.latency.record(static_cast<uint64_t>(std::chrono::nanoseconds(now - c.submitted).count()));
        }
    }
    submit(c, now);
}

void drive(std::span<QueueJob* const> jobs, Phase phase, Clock::time_point measure_start,
           Clock::time_point measure_end, bool busy_poll, std::atomic<bool>& abort) {
    std::vector<host::Queue*> queues;
    for (QueueJob* job : jobs) {
        job->begin(phase, measure_start, measure_end);
        queues.push_back(&job->queue());
    }
    for (;;) {
        if (abort.load(std::memory_order_relaxed)) return;
        bool active = false;
        size_t completed = 0;
        for (QueueJob* job : jobs) {
            if (!job->active()) continue;
            active = true;
            completed += job->queue().poll();
        }
        if (!active) return;
        // 1 ms bounds how late a phase end or a timeout is noticed when idle.
        if (completed == 0 && !busy_poll) host::wait_for_any(queues, std::chrono::milliseconds(1));
    }
}

}  // namespace nvmfd::perf
