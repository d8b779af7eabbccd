// nvmf-perf command line.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace nvmfd::perf {

enum class Workload { Read, Write, RandRead, RandWrite, ReadWrite, RandReadWrite };

const char* workload_name(Workload w);
bool workload_reads(Workload w);
bool workload_writes(Workload w);
bool workload_random(Workload w);

// --io-queue-size max: the controller's largest queue (CAP.MQES + 1).
inline constexpr uint32_t kControllerMaximumQueueSize = UINT32_MAX;

struct PerfOptions {
    std::string address = "127.0.0.1";
    uint16_t port = 4420;
    std::string subnqn;   // empty: the first NVM subsystem from discovery
    std::string hostnqn;  // empty: /etc/nvme/hostnqn or a random one
    bool empty_hostnqn = false;  // send an empty Host NQN (what spdk_nvme_perf sends without hostnqn:)
    std::string dhchap_secret;       // DHHC-1:..: authenticate when the target asks
    std::string dhchap_ctrl_secret;  // and check the target's proof (bidirectional)
    uint32_t nsid = 1;
    Workload workload = Workload::RandRead;
    unsigned rwmixread = 50;
    uint32_t block_size = 4096;  // I/O size (--bs)
    uint16_t queue_depth = 32;
    uint16_t queues = 1;
    // Entries per I/O queue (Connect's SQSIZE + 1); 0: queue_depth + 1, the
    // fewest that hold --qd commands; or kControllerMaximumQueueSize.
    uint32_t io_queue_size = 0;
    unsigned threads = 0;  // 0: one per queue
    double time_s = 10;
    double ramp_s = 0;
    uint64_t size = 0;  // bytes of the namespace to use, 0: all of it
    bool verify = false;
    uint64_t seed = 0;  // 0: from the clock
    bool header_digest = false;
    bool data_digest = false;
    std::string tls_psk;  // NVMeTLSkey-1 interchange text; empty: no TLS
    uint8_t hpda = 0;
    bool disable_sq_flow_control = false;
    bool busy_poll = false;
    bool like_spdk = false;  // --like-spdk: see apply_like_spdk()
    uint32_t kato_ms = 30000;
    uint32_t timeout_ms = 30000;
    bool json = false;
    bool table = false;
};

// Fills `options`; returns an exit code when the program should stop
// (0 after --help, 2 after a usage error), nothing to go on.
std::optional<int> parse_options(int argc, char** argv, PerfOptions& options);

// --like-spdk: behave as spdk_nvme_perf does on NVMe/TCP. Busy-poll the
// sockets, send an empty Host NQN unless --hostnqn is given, one thread per
// queue pair, I/O queues of the controller's maximum size unless
// --io-queue-size is given, and keep SQ flow control enabled (so every read
// gets C2HData and then a CapsuleResp). nvmf-perf's own default already
// keeps SQ flow control, so of these only busy polling, the Host NQN and the
// queue size differ from it.
// Throws std::invalid_argument for switches that contradict it.
void apply_like_spdk(PerfOptions& options, bool threads_given, bool queue_size_given);

// The entries to ask for per I/O queue, given the controller's CAP.MQES
// (0's based). Throws std::invalid_argument when --qd does not fit.
uint32_t io_queue_entries(const PerfOptions& options, uint16_t mqes);

// "4096", "4k", "128K", "1m", "2g" -> bytes.
uint64_t parse_size(const std::string& text);

}  // namespace nvmfd::perf
