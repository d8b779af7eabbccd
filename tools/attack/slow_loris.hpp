// A slow-loris host, on its own thread until stopped: `connections`
// connections that each trickle one byte of a PDU every `byte_interval` and
// never send its last byte. Half of them stall inside their ICReq (before
// Connect: no host NQN known yet); the other half complete ICReq and an
// admin Connect (each as its own host NQN) and then stall inside a Keep
// Alive capsule. A connection the target closes (its timeouts) is opened
// again, as a persistent attacker would.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "tools/attack/attack_target.hpp"

namespace nvmfd::attack {

struct SlowLorisOptions {
    AttackTarget target;
    unsigned connections = 100;
    std::chrono::milliseconds byte_interval{100};
    std::string hostnqn_prefix = "nqn.2014-08.io.nvmfd.attack:slow-loris-";
};

struct SlowLorisStats {
    uint64_t open = 0;        // connections trickling right now
    uint64_t connected = 0;   // of those, past Connect
    uint64_t bytes = 0;       // bytes trickled so far
    uint64_t reopened = 0;    // connections the target closed and that were opened again
    uint64_t failures = 0;    // opening (or connecting) one failed
};

class SlowLoris {
public:
    explicit SlowLoris(SlowLorisOptions options);
    ~SlowLoris();
    SlowLoris(const SlowLoris&) = delete;
    SlowLoris& operator=(const SlowLoris&) = delete;

    // Blocks until every connection was opened once (or `timeout` passed).
    bool wait_ready(std::chrono::milliseconds timeout) const;
    SlowLorisStats stats() const;
    void stop();

private:
    struct Trickle {
        host::Socket socket;
        std::vector<std::byte> pdu;  // what it trickles
        size_t sent = 0;
        bool connected = false;
    };
    void run();
    bool open(Trickle& t, unsigned index);

    const SlowLorisOptions options_;
    std::atomic<bool> stop_{false}, ready_{false};
    std::atomic<uint64_t> open_{0}, connected_{0}, bytes_{0}, reopened_{0}, failures_{0};
    std::thread thread_;
};

}  // namespace nvmfd::attack
