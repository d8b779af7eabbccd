#include "tools/nvmf-perf/session.hpp"

#include <algorithm>
#include <fstream>
#include <atomic>
#include <fmt/format.h>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <sys/resource.h>
#include <thread>
#include <vector>

#include "tools/host/controller.hpp"
#include "tools/host/discovery.hpp"
#include "tools/host/errors.hpp"
#include "tools/nvmf-perf/queue_job.hpp"

namespace nvmfd::perf {

int RunResult::exit_code() const {
    if (!failure.empty()) return 3;
    if (stats.mismatches > 0 || stats.errors > 0) return 1;
    return 0;
}

namespace {

// A secret given as @FILE is read from the file (out of ps and shell history).
std::string secret_text(const std::string& v) {
    if (!v.starts_with("@")) return v;
    std::ifstream in(v.substr(1));
    if (!in) throw std::runtime_error(fmt::format("cannot read the secret file {}", v.substr(1)));
    std::string text;
    std::getline(in, text);
    return text;
}

double cpu_seconds() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    auto seconds = [](const timeval& t) { return double(t.tv_sec) + double(t.tv_usec) / 1e6; };
    return seconds(u.ru_utime) + seconds(u.ru_stime);
}

class Benchmark {
public:
    explicit Benchmark(const PerfOptions& options) : o_(options) {}

    RunResult run() {
        connect();
        create_jobs();
        if (o_.verify && workload_reads(o_.workload)) run_phase(Phase::Prefill, {}, {});
        if (result_.failure.empty()) run_timed();
        if (result_.failure.empty() && o_.verify && !workload_reads(o_.workload)) run_phase(Phase::ReadBack, {}, {});
        for (const auto& job : jobs_) result_.stats.merge(job->stats());
        result_.options = o_;
        return std::move(result_);
    }

private:
    // The PSK identity and TLS PSK for one subsystem, from --tls-psk.
    std::shared_ptr<const host::TlsCredentials> tls_credentials(const std::string& hostnqn, const std::string& subnqn) {
        if (o_.tls_psk.empty()) return nullptr;
        std::string text = o_.tls_psk;
        if (text.starts_with('@')) {
            std::ifstream in(text.substr(1));
            if (!in) throw std::invalid_argument(fmt::format("--tls-psk: cannot read {}", text.substr(1)));
            std::getline(in, text);
        }
        try {
            return host::tls_credentials(text, hostnqn, subnqn);
        } catch (const std::invalid_argument& e) {
            throw std::invalid_argument(fmt::format("--tls-psk: {}", e.what()));
        }
    }

    void connect() {
        host::ControllerOptions co;
        co.host = host::default_host_identity();
        if (!o_.hostnqn.empty()) co.host.hostnqn = o_.hostnqn;
        co.empty_hostnqn = o_.empty_hostnqn;
        if (!o_.dhchap_secret.empty()) {
            host::DhchapCredentials c;
            c.secret = secret_text(o_.dhchap_secret);
            c.ctrl_secret = o_.dhchap_ctrl_secret.empty() ? "" : secret_text(o_.dhchap_ctrl_secret);
            co.dhchap = std::move(c);
        }
        co.transport.header_digest = o_.header_digest;
        co.transport.data_digest = o_.data_digest;
        co.transport.hpda = o_.hpda;
        co.queue.command_timeout = std::chrono::milliseconds(o_.timeout_ms);
        host::Endpoint endpoint{o_.address, o_.port};
        if (o_.subnqn.empty()) {
            co.transport.tls = tls_credentials(co.host.hostnqn, proto::kDiscoveryNqn);
            host::DiscoveryLog log = host::discover(endpoint, co);
            auto entry = host::first_nvm_subsystem(log);
            if (!entry)
                throw host::Error(fmt::format("discovery at {}:{} lists no NVM subsystem ({} entries)", o_.address,
                                              o_.port, log.entries.size()));
            o_.subnqn = entry->subnqn;
        }
        co.subnqn = o_.subnqn;
        co.transport.tls = tls_credentials(co.host.hostnqn, o_.subnqn);
        co.kato_ms = o_.kato_ms;
        controller_ = std::make_unique<host::Controller>(host::Controller::connect(endpoint, co));

        result_.geometry = controller_->namespace_geometry(o_.nsid);
        uint32_t lba = result_.geometry.block_size;
        if (o_.block_size % lba != 0)
            throw std::invalid_argument(fmt::format("--bs {} is not a multiple of namespace {}'s {}-byte blocks",
                                                    o_.block_size, o_.nsid, lba));
        if (o_.block_size / lba > 65536)
            throw std::invalid_argument(fmt::format("--bs {} is more than 65536 blocks", o_.block_size));
        if (uint64_t mdts = controller_->max_transfer_bytes(); mdts != 0 && o_.block_size > mdts)
            throw std::invalid_argument(fmt::format("--bs {} exceeds the controller's maximum transfer of {} bytes",
                                                    o_.block_size, mdts));
        uint64_t capacity = result_.geometry.blocks * lba;
        result_.region_bytes = o_.size ? std::min(o_.size, capacity) : capacity;
        if (result_.region_bytes / o_.block_size < o_.queues)
            throw std::invalid_argument(fmt::format("the region of {} bytes holds fewer than one {}-byte I/O per queue",
                                                    result_.region_bytes, o_.block_size));
        if (o_.seed == 0) o_.seed = static_cast<uint64_t>(Clock::now().time_since_epoch().count()) | 1;
    }

    void create_jobs() {
        try {
            uint16_t granted = controller_->request_io_queues(o_.queues);
            if (granted < o_.queues)
                throw host::Error(fmt::format("the controller grants {} I/O queues, {} asked for", granted, o_.queues));
        } catch (const host::StatusError& e) {
            fmt::print(stderr, "nvmf-perf: warning: {} (going on)\n", e.what());
        }
        JobConfig config;
        config.workload = o_.workload;
        config.rwmixread = o_.rwmixread;
        config.io_size = o_.block_size;
        config.lba_size = result_.geometry.block_size;
        config.nsid = o_.nsid;
        config.verify = o_.verify;
        config.seed = o_.seed;
        uint64_t units = result_.region_bytes / o_.block_size;
        // Sequential and verifying jobs get a stripe each; random ones roam the region.
        bool striped = o_.verify || !workload_random(o_.workload);
        host::IoQueueOptions qo;
        qo.queue.command_timeout = std::chrono::milliseconds(o_.timeout_ms);
        qo.disable_sq_flow_control = o_.disable_sq_flow_control;
        qo.queue_size = io_queue_entries(o_, controller_->max_queue_entries());
        result_.io_queue_size = qo.queue_size;
        for (uint16_t q = 0; q < o_.queues; ++q) {
            uint64_t first = striped ? units * q / o_.queues : 0;
            uint64_t count = striped ? units * (q + 1) / o_.queues - first : units;
            host::IoQueue io = controller_->connect_io_queue(static_cast<uint16_t>(q + 1), o_.queue_depth, qo);
            jobs_.push_back(std::make_unique<QueueJob>(std::move(io), config, first, count,
                                                       o_.seed * 0x9e3779b97f4a7c15ull + q, abort_));
        }
        result_.threads = o_.threads ? o_.threads : o_.queues;
    }

    void run_timed() {
        auto start = Clock::now() + std::chrono::milliseconds(20);  // let the threads start
        auto measure_start = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o_.ramp_s));
        auto measure_end = measure_start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o_.time_s));
        run_phase(Phase::Timed, measure_start, measure_end);
        result_.measured_seconds = o_.time_s;
    }

    void run_phase(Phase phase, Clock::time_point measure_start, Clock::time_point measure_end) {
        unsigned threads = result_.threads;
        std::vector<std::vector<QueueJob*>> groups(threads);
        for (size_t i = 0; i < jobs_.size(); ++i) groups[i % threads].push_back(jobs_[i].get());
        std::vector<std::string> failures(threads);
        std::string admin_failure;
        std::atomic<unsigned> finished{0};
        std::vector<std::thread> workers;
        for (unsigned t = 0; t < threads; ++t) {
            workers.emplace_back([&, t] {
                try {
                    drive(groups[t], phase, measure_start, measure_end, o_.busy_poll, abort_);
                } catch (const std::exception& e) {
                    failures[t] = e.what();
                    abort_ = true;
                }
                ++finished;
            });
        }
        // Meanwhile: keep-alives on the admin queue, and CPU time of the measured window.
        auto keep_alive_every = std::chrono::milliseconds(std::max<uint32_t>(o_.kato_ms / 2, 1));
        auto next_keep_alive = Clock::now() + keep_alive_every;
        bool cpu_started = false;
        double cpu_at_start = 0;
        double cpu_at_end = 0;
        bool cpu_ended = false;
        while (finished.load() < threads) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
            auto now = Clock::now();
            if (phase == Phase::Timed && !cpu_started && now >= measure_start) {
                cpu_at_start = cpu_seconds();
                cpu_started = true;
            }
            if (phase == Phase::Timed && cpu_started && !cpu_ended && now >= measure_end) {
                cpu_at_end = cpu_seconds();
                cpu_ended = true;
            }
            if (o_.kato_ms != 0 && now >= next_keep_alive && !abort_) {
                next_keep_alive = now + keep_alive_every;
                try {
                    if (proto::Status s = controller_->keep_alive(); !s.ok())
                        result_.stats.note(fmt::format("Keep Alive failed: {}", proto::status_name(s)));
                } catch (const std::exception& e) {
                    admin_failure = fmt::format("admin queue: {}", e.what());
                    abort_ = true;
                }
            }
        }
        for (auto& w : workers) w.join();
        if (phase == Phase::Timed && cpu_started) {
            if (!cpu_ended) cpu_at_end = cpu_seconds();
            result_.cpu_percent = 100.0 * (cpu_at_end - cpu_at_start) / o_.time_s;
        }
        failures.push_back(admin_failure);
        for (const std::string& f : failures)
            if (!f.empty() && result_.failure.empty()) result_.failure = f;
    }

    PerfOptions o_;
    RunResult result_;
    std::atomic<bool> abort_{false};  // any thread failed: everyone stops
    std::unique_ptr<host::Controller> controller_;
    std::vector<std::unique_ptr<QueueJob>> jobs_;
};

}  // namespace

RunResult run_benchmark(const PerfOptions& options) { return Benchmark(options).run(); }

}  // namespace nvmfd::perf
