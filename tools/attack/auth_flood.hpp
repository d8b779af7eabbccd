// Authentication that costs the target the most and gets nowhere: hosts
// claiming a keyed host's NQN without its secret, each offering only a big
// DH group, taking the CHALLENGE (the target makes a key pair), answering
// with a valid-looking DH value and a wrong response (the target computes
// the shared secret before it can tell), reading the FAILURE1, and starting
// again on a new connection. Two modular exponentiations per round.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "tools/host/connection.hpp"

namespace nvmfd::attack {

struct AuthFloodOptions {
    host::Endpoint target;
    std::string subnqn;
    std::string hostnqn;      // a host the subsystem holds a DH-HMAC-CHAP secret for
    uint8_t dh_group = 5;     // ffdhe8192
    unsigned connections = 4; // rounds running at once
};

struct AuthFloodStats {
    uint64_t rounds = 0;    // ended in the expected FAILURE1
    uint64_t failures = 0;  // anything else (refused Connect, closed early, ...)
};

class AuthFlood {
public:
    explicit AuthFlood(AuthFloodOptions options);
    ~AuthFlood();
    void stop();
    AuthFloodStats stats() const { return {rounds_.load(), failures_.load()}; }

private:
    void run();
    void round();

    AuthFloodOptions options_;
    std::atomic<bool> stop_{false};
    std::atomic<uint64_t> rounds_{0};
    std::atomic<uint64_t> failures_{0};
    std::vector<std::thread> threads_;
};

}  // namespace nvmfd::attack
