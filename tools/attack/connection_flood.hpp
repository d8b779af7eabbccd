// A connection flood from one address, on its own thread until stopped:
// new connections at a steady rate, each closed at once (reset), after a
// whole ICReq without waiting for the answer (reset), or after a few bytes
// of one (FIN); and up to `half_open` connections held that never finish
// their ICReq (replaced when the target closes them). What a port scanner,
// a crashed host's reconnect loop or a deliberate flood looks like.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>

#include "tools/attack/attack_target.hpp"

namespace nvmfd::attack {

struct FloodOptions {
    AttackTarget target;
    unsigned rate = 1000;     // new connections per second
    unsigned half_open = 200; // connections held without a whole ICReq
};

struct FloodStats {
    uint64_t connections = 0;       // TCP connections made
    uint64_t failed = 0;            // connect() failed: reset at once (a refusal), refused, or timed out (backlog full)
    uint64_t closed_by_target = 0;  // held connections the target closed (limit or timeout)
    uint64_t held = 0;              // held open right now
};

class ConnectionFlood {
public:
    explicit ConnectionFlood(FloodOptions options);
    ~ConnectionFlood();
    ConnectionFlood(const ConnectionFlood&) = delete;
    ConnectionFlood& operator=(const ConnectionFlood&) = delete;

    FloodStats stats() const;
    void stop();

private:
    void run();
    void one_connection(uint64_t n, std::vector<host::Socket>& held);

    const FloodOptions options_;
    std::atomic<bool> stop_{false};
    std::atomic<uint64_t> connections_{0}, failed_{0}, closed_by_target_{0}, held_{0};
    std::thread thread_;
};

}  // namespace nvmfd::attack
