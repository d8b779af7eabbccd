#include "tools/nvmf-perf/options.hpp"

#include <boost/program_options.hpp>
#include <cctype>
#include <fmt/format.h>
#include <iostream>
#include <stdexcept>

namespace nvmfd::perf {

namespace po = boost::program_options;

const char* workload_name(Workload w) {
    switch (w) {
    case Workload::Read: return "read";
    case Workload::Write: return "write";
    case Workload::RandRead: return "randread";
    case Workload::RandWrite: return "randwrite";
    case Workload::ReadWrite: return "rw";
    case Workload::RandReadWrite: return "randrw";
    }
    return "?";
}

bool workload_reads(Workload w) { return w != Workload::Write && w != Workload::RandWrite; }
bool workload_writes(Workload w) { return w != Workload::Read && w != Workload::RandRead; }
bool workload_random(Workload w) {
    return w == Workload::RandRead || w == Workload::RandWrite || w == Workload::RandReadWrite;
}

uint64_t parse_size(const std::string& text) {
    size_t used = 0;
    uint64_t value = std::stoull(text, &used);
    std::string suffix = text.substr(used);
    for (char& c : suffix) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (suffix == "" || suffix == "b") return value;
    if (suffix == "k" || suffix == "kib" || suffix == "kb") return value << 10;
    if (suffix == "m" || suffix == "mib" || suffix == "mb") return value << 20;
    if (suffix == "g" || suffix == "gib" || suffix == "gb") return value << 30;
    throw std::invalid_argument(fmt::format("size '{}': unknown suffix '{}'", text, suffix));
}

namespace {

Workload parse_workload(const std::string& name) {
    for (Workload w : {Workload::Read, Workload::Write, Workload::RandRead, Workload::RandWrite, Workload::ReadWrite,
                       Workload::RandReadWrite})
        if (name == workload_name(w)) return w;
    throw std::invalid_argument(fmt::format("workload '{}': one of read, write, randread, randwrite, rw, randrw", name));
}

uint32_t parse_queue_size(const std::string& text) {
    if (text == "max") return kControllerMaximumQueueSize;
    size_t used = 0;
    unsigned long value = 0;
    try {
        value = std::stoul(text, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (used != text.size() || value < 2 || value > 65536)
        throw std::invalid_argument(fmt::format("--io-queue-size {}: 2..65536 entries, or max", text));
    return static_cast<uint32_t>(value);
}

}  // namespace

void apply_like_spdk(PerfOptions& o, bool threads_given, bool queue_size_given) {
    if (o.disable_sq_flow_control)
        throw std::invalid_argument("--like-spdk keeps SQ flow control, as spdk_nvme_perf does: "
                                    "drop --disable-sqflow, or use --busy-poll --empty-hostnqn --disable-sqflow");
    if (threads_given && o.threads != 0 && o.threads != o.queues)
        throw std::invalid_argument("--like-spdk drives each queue pair from its own thread: drop --threads");
    o.busy_poll = true;
    o.threads = o.queues;
    // spdk_nvme_perf asks for UINT16_MAX entries and its driver cuts that to CAP.MQES + 1.
    if (!queue_size_given) o.io_queue_size = kControllerMaximumQueueSize;
    // With --hostnqn it is sent as given, as spdk_nvme_perf does with hostnqn:.
    if (o.hostnqn.empty()) o.empty_hostnqn = true;
}

uint32_t io_queue_entries(const PerfOptions& o, uint16_t mqes) {
    uint32_t largest = uint32_t(mqes) + 1;
    uint32_t entries = o.io_queue_size == kControllerMaximumQueueSize ? largest
                       : o.io_queue_size                              ? o.io_queue_size
                                                                      : uint32_t(o.queue_depth) + 1;
    if (entries > largest)
        throw std::invalid_argument(
            fmt::format("I/O queues of {} entries: the controller allows at most {} (CAP.MQES + 1)", entries, largest));
    if (entries <= o.queue_depth)
        throw std::invalid_argument(fmt::format("--qd {} needs I/O queues of at least {} entries, not {}",
                                                o.queue_depth, o.queue_depth + 1, entries));
    return entries;
}

std::optional<int> parse_options(int argc, char** argv, PerfOptions& o) {
    std::string workload = "randread";
    std::string bs = "4k";
    std::string size = "0";
    unsigned qd = o.queue_depth;
    unsigned queues = o.queues;
    unsigned hpda = 0;
    std::string io_queue_size;
    po::options_description desc(
        "nvmf-perf: NVMe/TCP load generator\n"
        "Exit status: 0 success, 1 verify mismatch or I/O errors, 2 usage, 3 connection or protocol failure\n\n"
        "Options");
    desc.add_options()
        ("help,h", "show this help")
        ("address,a", po::value(&o.address)->default_value(o.address), "target address (IPv4, IPv6 or name)")
        ("port,p", po::value(&o.port)->default_value(o.port), "target TCP port")
        ("subnqn,n", po::value(&o.subnqn), "subsystem NQN (default: first NVM subsystem from discovery)")
        ("hostnqn", po::value(&o.hostnqn), "host NQN (default: /etc/nvme/hostnqn or a random UUID NQN)")
        ("empty-hostnqn", po::bool_switch(&o.empty_hostnqn), "send an empty Host NQN in Connect (as spdk_nvme_perf does)")
        ("dhchap-secret", po::value(&o.dhchap_secret),
         "DH-HMAC-CHAP secret (DHHC-1:NN:...:, or @FILE) used when the target asks for authentication")
        ("dhchap-ctrl-secret", po::value(&o.dhchap_ctrl_secret),
         "the controller's secret (or @FILE): authenticate the target too")
        ("nsid", po::value(&o.nsid)->default_value(o.nsid), "namespace id")
        ("workload,w", po::value(&workload)->default_value(workload), "read, write, randread, randwrite, rw, randrw")
        ("rwmixread", po::value(&o.rwmixread)->default_value(o.rwmixread), "percent reads in rw/randrw")
        ("bs", po::value(&bs)->default_value(bs), "I/O size (e.g. 4k, 128k)")
        ("qd", po::value(&qd)->default_value(qd), "queue depth per I/O queue")
        ("queues", po::value(&queues)->default_value(queues), "I/O queues (one TCP connection each)")
        ("io-queue-size", po::value(&io_queue_size),
         "entries per I/O queue (Connect's SQSIZE + 1), or max for the controller's CAP.MQES + 1 "
         "(default: --qd + 1; with --like-spdk: max)")
        ("threads", po::value(&o.threads)->default_value(0), "threads driving the queues (0: one per queue)")
        ("time", po::value(&o.time_s)->default_value(o.time_s), "measured seconds")
        ("ramp", po::value(&o.ramp_s)->default_value(o.ramp_s), "seconds of load before measuring")
        ("size", po::value(&size)->default_value(size), "bytes of the namespace to use (0: all)")
        ("verify", po::bool_switch(&o.verify), "write a per-block pattern (LBA, seed, generation) and check every read")
        ("seed", po::value(&o.seed)->default_value(0), "verify pattern seed (0: from the clock)")
        ("hdgst", po::bool_switch(&o.header_digest), "request header digests")
        ("ddgst", po::bool_switch(&o.data_digest), "request data digests")
        ("tls-psk", po::value(&o.tls_psk), "TLS 1.3 with this PSK: NVMeTLSkey-1:NN:...: or @FILE holding it")
        ("hpda", po::value(&hpda)->default_value(0), "host PDU data alignment (0's based dwords)")
        ("disable-sqflow", po::bool_switch(&o.disable_sq_flow_control), "disable SQ flow control (reads may complete by C2HData SUCCESS)")
        ("busy-poll", po::bool_switch(&o.busy_poll), "spin on the sockets instead of sleeping in poll(2)")
        ("like-spdk", po::bool_switch(&o.like_spdk),
         "behave as spdk_nvme_perf: --busy-poll, --empty-hostnqn unless --hostnqn is given, one thread per queue, "
         "--io-queue-size max unless given; "
         "SQ flow control stays enabled (as by default), so --disable-sqflow is refused")
        ("kato", po::value(&o.kato_ms)->default_value(o.kato_ms), "keep-alive timeout in ms (0: off)")
        ("timeout", po::value(&o.timeout_ms)->default_value(o.timeout_ms), "command timeout in ms")
        ("json", po::bool_switch(&o.json), "print results as JSON")
        ("table", po::bool_switch(&o.table), "run the benchmark matrix (4 KiB randread QD1/32/128, 128 KiB read QD32) and print a markdown table");
    po::variables_map vm;
    try {
        po::store(po::parse_command_line(argc, argv, desc), vm);
        if (vm.count("help")) {
            std::cout << desc << "\n";
            return 0;
        }
        po::notify(vm);
        o.workload = parse_workload(workload);
        uint64_t io_size = parse_size(bs);
        if (io_size == 0 || io_size > (64u << 20) || io_size % 512 != 0)
            throw std::invalid_argument(fmt::format("--bs {}: a multiple of 512 up to 64 MiB", bs));
        o.block_size = static_cast<uint32_t>(io_size);
        o.size = parse_size(size);
        if (qd == 0 || qd > 65535) throw std::invalid_argument("--qd: 1..65535");
        if (queues == 0 || queues > 65534) throw std::invalid_argument("--queues: 1..65534");
        o.queue_depth = static_cast<uint16_t>(qd);
        o.queues = static_cast<uint16_t>(queues);
        if (!io_queue_size.empty()) o.io_queue_size = parse_queue_size(io_queue_size);
        if (o.io_queue_size) io_queue_entries(o, UINT16_MAX);  // --qd fits: refused before connecting
        if (hpda > 31) throw std::invalid_argument("--hpda: 0..31");
        o.hpda = static_cast<uint8_t>(hpda);
        if (o.rwmixread > 100) throw std::invalid_argument("--rwmixread: 0..100");
        if (o.time_s <= 0) throw std::invalid_argument("--time must be positive");
        if (o.ramp_s < 0) throw std::invalid_argument("--ramp must not be negative");
        if (o.threads > o.queues) throw std::invalid_argument("--threads: at most one per queue");
        if (o.empty_hostnqn && !o.hostnqn.empty())
            throw std::invalid_argument("--empty-hostnqn and --hostnqn contradict each other");
        if (o.like_spdk) apply_like_spdk(o, !vm["threads"].defaulted(), !io_queue_size.empty());
        if (o.empty_hostnqn && (!o.tls_psk.empty() || !o.dhchap_secret.empty()))
            throw std::invalid_argument("TLS and DH-HMAC-CHAP derive keys from the Host NQN: give --hostnqn");
    } catch (const std::exception& e) {
        fmt::print(stderr, "nvmf-perf: {}\n(see --help)\n", e.what());
        return 2;
    }
    return std::nullopt;
}

}  // namespace nvmfd::perf
