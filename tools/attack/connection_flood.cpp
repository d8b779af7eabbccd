#include "tools/attack/connection_flood.hpp"

#include <algorithm>
#include <chrono>
#include <vector>

#include "tools/host/errors.hpp"
#include "tools/host/pdu_build.hpp"

namespace nvmfd::attack {

using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;

ConnectionFlood::ConnectionFlood(FloodOptions options) : options_(std::move(options)) {
    thread_ = std::thread([this] { run(); });
}

ConnectionFlood::~ConnectionFlood() { stop(); }

void ConnectionFlood::stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
}

FloodStats ConnectionFlood::stats() const {
    return {connections_.load(), failed_.load(), closed_by_target_.load(), held_.load()};
}

void ConnectionFlood::run() {
    std::vector<host::Socket> held;
    auto start = Steady::now();
    auto last_check = start;
    uint64_t made = 0;
    while (!stop_) {
        // Connections due by now at the rate; sleep a millisecond when ahead.
        double elapsed = std::chrono::duration<double>(Steady::now() - start).count();
        auto due = static_cast<uint64_t>(elapsed * options_.rate);
        if (made >= due) {
            std::this_thread::sleep_for(1ms);
        } else {
            one_connection(made++, held);
        }
        // Held connections the target gave up on are replaced by new ones
        // (looked for every 50 ms: one poll() for all of them).
        if (Steady::now() - last_check >= 50ms) {
            last_check = Steady::now();
            auto gone = closed_sockets(held);
            closed_by_target_ += gone;
            held_ = held.size();
        }
    }
    for (auto& s : held) close_with_reset(s);
    held_ = 0;
}

void ConnectionFlood::one_connection(uint64_t n, std::vector<host::Socket>& held) {
    host::Socket s;
    try {
        s = connect_from(options_.target, 200ms);
    } catch (const host::Error&) {
        ++failed_;
        return;
    }
    ++connections_;
    static const auto icreq = host::pdu::icreq_bytes({});
    if (held.size() < options_.half_open && n % 2 == 0) {
        // Half open: the first bytes of an ICReq, never the rest.
        try {
            s.send_all(std::span(icreq).first(8), host::deadline_after(200ms));
            held.push_back(std::move(s));
        } catch (const host::Error&) {
            ++closed_by_target_;
        }
        return;
    }
    try {
        switch (n % 3) {
        case 0: break;                                                          // connect, reset
        case 1: s.send_all(icreq, host::deadline_after(200ms)); break;          // ICReq, reset unread
        case 2:
            s.send_all(std::span(icreq).first(16), host::deadline_after(200ms));  // part of one, FIN
            s.close();
            return;
        }
    } catch (const host::Error&) {
    }
    close_with_reset(s);
}

}  // namespace nvmfd::attack
