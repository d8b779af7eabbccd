// Threads for DH-HMAC-CHAP transactions. Their modular exponentiations
// cost 0.3 ms (ffdhe2048) to 6.6 ms (ffdhe8192) each on this machine, two
// per transaction: run on a reactor, a host that merely claims a keyed
// host's NQN could stall every other host's I/O there. The kernel's nvmet
// runs them in a work queue for the same reason.
#pragma once

#include <functional>
#include <memory>

namespace nvmfd::target {

class AuthWorkers {
public:
    explicit AuthWorkers(unsigned threads);
    // Joins the threads; jobs not started yet are dropped (they only hold
    // shared state and a message for a reactor that is going away too).
    ~AuthWorkers();
    AuthWorkers(const AuthWorkers&) = delete;
    AuthWorkers& operator=(const AuthWorkers&) = delete;

    // Any thread. `job` must not throw.
    void post(std::function<void()> job);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace nvmfd::target
