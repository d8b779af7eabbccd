// A listening socket, served by reactor 0; accepted connections go to the
// least loaded reactor. When accept() fails for lack of resources (file
// descriptors, memory) the listener stops polling for a backoff (100 ms,
// doubling to 2 s) instead of spinning on a socket that stays readable, and
// logs the refusals once per report interval. A peer address at its
// max-pending-connections-per-address is refused at accept (reset at once),
// reported at notice at most once per interval.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <sys/socket.h>

#include "core/plugin/transport.hpp"
#include "core/runtime/reactor.hpp"

namespace nvmfd::plugins::tcp {

class TcpTransport;

class Listener final : private runtime::FdHandler {
public:
    Listener(TcpTransport& t, runtime::Reactor& r, int fd, uint16_t port_id, plugin::SecureChannel secure);
    ~Listener();
    Listener(const Listener&) = delete;
    Listener& operator=(const Listener&) = delete;

    // Reactor thread.
    void start();
    void stop();
    runtime::Reactor& reactor() { return reactor_; }

private:
    void on_fd_event(uint32_t) override;
    void hand_over(int fd, const sockaddr_storage& peer);
    void refuse(int fd, const std::string& address, uint32_t held);
    void report_refusals();
    void back_off(int err);
    void resume();

    TcpTransport& transport_;
    runtime::Reactor& reactor_;
    int fd_;
    uint16_t port_id_;
    plugin::SecureChannel secure_;

    // Resource exhaustion backoff.
    runtime::Reactor::TimerId retry_timer_ = 0;
    std::chrono::milliseconds backoff_;
    unsigned refusals_ = 0;  // since the last report
    bool paused_ = false;    // backing off: the core was told the port is down
    runtime::Clock::time_point last_report_{};

    // Refusals at the pending-connection limit since the last report.
    runtime::Reactor::TimerId limit_report_timer_ = 0;
    unsigned limit_refusals_ = 0;
    std::string refused_address_;
    uint32_t refused_held_ = 0;
};

}  // namespace nvmfd::plugins::tcp
