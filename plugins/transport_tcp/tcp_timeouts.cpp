// Timeouts of an NVMe/TCP connection, checked by one timer per connection
// every quarter of the shorter timeout (no timer per command or per PDU):
// - connect_timeout: ICReq, Connect and (where the host must) authentication
//   must be done this long after accept;
// - pdu_stall_timeout: a PDU that has begun (header or payload) must be
//   whole within this long; a host trickling bytes cannot hold a
//   connection open. Not counted while we are the ones not reading.
// Connected, idle controllers are left to keep-alive.
#include <algorithm>

#include "core/runtime/log.hpp"
#include "plugins/transport_tcp/tcp_connection.hpp"

namespace nvmfd::plugins::tcp {

using std::chrono::milliseconds;

void TcpConnection::arm_timeout_check() {
    milliseconds shortest = std::min(options_.connect_timeout, options_.pdu_stall_timeout);
    milliseconds period = std::clamp(shortest / 4, milliseconds(25), milliseconds(5000));
    timeout_timer_ = reactor_.add_timer(period, [this] {
        timeout_timer_ = 0;
        check_timeouts();
        if (!closing_) arm_timeout_check();
    });
}

void TcpConnection::check_timeouts() {
    if (closing_) return;
    auto now = runtime::Clock::now();
    bool connected = !slots_.empty() && handler_ && handler_->established();
    if (!connected && now - started_ > options_.connect_timeout) {
        timed_out(fmt::format("no {} within {} ms of connecting",
                              !ic_done_ ? "ICReq and Connect" : slots_.empty() ? "Connect" : "Connect and authentication",
                              options_.connect_timeout.count()));
        return;
    }
    bool partial = in_payload_ || rx_tail_ != rx_head_;
    if (!partial || input_paused() || pdus_parsed_ != stall_mark_) {
        // No PDU underway, or we are the ones not reading, or PDUs completed since the last look.
        stall_mark_ = pdus_parsed_;
        stall_since_ = now;
        return;
    }
    if (now - stall_since_ > options_.pdu_stall_timeout)
        timed_out(fmt::format("a PDU begun {} ms ago is still incomplete",
                              std::chrono::duration_cast<milliseconds>(now - stall_since_).count()));
}

void TcpConnection::timed_out(std::string_view reason) {
    log::notice("tcp: closing connection from {}: {}", peer_, reason);
    close(reason);
}

}  // namespace nvmfd::plugins::tcp
