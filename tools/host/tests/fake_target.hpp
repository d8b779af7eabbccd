// A small in-process NVMe/TCP target for testing the host library: one
// RAM namespace, thread per connection, and switchable misbehaviour so that
// every check of the host can be made to fire. It also holds the host to
// the rules (PDO alignment, digests, H2CData offsets) and records what the
// host got wrong. Test code: simple blocking I/O, no performance claims
// beyond "fast enough to exercise a pipelined host".
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace nvmfd::host::testing {

enum class Fault {
    None,
    // ICResp
    IcRespSmallMaxH2CData,
    IcRespExtraDigest,
    IcRespTermReq,
    // Applied to the first Read or Write on an I/O queue
    CorruptHeaderDigest,
    CorruptDataDigest,
    MisalignedPdo,
    UnknownCid,
    DataOutOfOrder,
    TermReq,
    NoResponse,
    CloseConnection,
    ShortReadSuccess,
    R2TOverrun,
    SuccessFlagWithoutLast,
    // Not a protocol error: one byte of the returned data is wrong (for verify tests)
    CorruptReadData,
};

struct FakeTargetOptions {
    std::string subnqn = "nqn.2026-11.io.nvmfd:fake";
    uint8_t cpda = 0;
    uint32_t maxh2cdata = 128 * 1024;
    uint32_t in_capsule_bytes = 4096;  // IOCCSZ = (64 + this) / 16
    uint32_t c2h_chunk = 128 * 1024;   // read data per C2HData PDU
    uint32_t r2t_chunk = 0;            // 0: one R2T per write; else R2Ts of this size, one after another
    uint64_t namespace_bytes = 64ull << 20;
    uint32_t block_size = 512;
    uint8_t mdts = 8;                  // 2^8 * 4 KiB = 1 MiB
    uint16_t mqes = 1023;
    Fault fault = Fault::None;
    bool ipv6 = false;                 // listen on [::1] instead of 127.0.0.1
};

class FakeTarget {
public:
    explicit FakeTarget(FakeTargetOptions options = {}, uint16_t port = 0);
    ~FakeTarget();
    FakeTarget(const FakeTarget&) = delete;
    FakeTarget& operator=(const FakeTarget&) = delete;

    uint16_t port() const { return port_; }
    const FakeTargetOptions& options() const { return options_; }
    // What the host did wrong, as seen by the target.
    std::vector<std::string> violations() const;
    // Entries (SQSIZE + 1) of every I/O queue connected so far, in order.
    std::vector<uint32_t> io_queue_sizes() const;
    uint64_t commands() const { return commands_.load(); }
    // Runs until stopped (the standalone executable).
    void wait();

    struct Shared;

private:
    void accept_loop();

    FakeTargetOptions options_;
    int listen_fd_ = -1;
    uint16_t port_ = 0;
    std::atomic<bool> stopping_{false};
    std::atomic<uint64_t> commands_{0};
    std::unique_ptr<Shared> shared_;
    std::thread acceptor_;
};

}  // namespace nvmfd::host::testing
