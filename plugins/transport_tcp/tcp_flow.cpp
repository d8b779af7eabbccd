// Input flow control of an NVMe/TCP connection: a connection stops reading
// (EPOLLIN off) while it waits for pool pages, and while its busy slots hold
// (or, executing, may take) more pool bytes than max_connection_buffer: a
// host that does not read its responses cannot take the whole pool.
// Reading resumes when that ends.
// With EPOLLIN on while waiting, level-triggered epoll would report the
// unread bytes on every loop turn: the reactor would spin.
#include <sys/epoll.h>
#include <utility>

#include "plugins/transport_tcp/tcp_connection.hpp"

#include "core/runtime/log.hpp"

namespace nvmfd::plugins::tcp {

bool TcpConnection::input_paused() const {
    return waiting_for_rx_buffer_ || !waiting_for_r2t_buffer_.empty() || held_bytes_ > options_.max_connection_buffer;
}

uint32_t TcpConnection::epoll_events() const {
    return (input_on_ ? uint32_t(EPOLLIN | EPOLLRDHUP) : 0u) | (want_write_ ? uint32_t(EPOLLOUT) : 0u);
}

void TcpConnection::update_input() {
    bool on = !closing_ && !input_paused();
    if (on == input_on_ || dead_) return;
    input_on_ = on;
    reactor_.modify_fd(fd_, epoll_events(), *this);
    if (!on && held_bytes_ > options_.max_connection_buffer)
        log::debug("tcp: {}: {} bytes of pool buffers taken or unsent; reading paused", peer_, held_bytes_);
}

void TcpConnection::refresh_input() {
    if (closing_) return;
    bool was_on = input_on_;
    update_input();
    if (!was_on && input_on_) process_rx();
}

void TcpConnection::hold_for_transfer(TcpRequest& r) {
    // Counted from prepare on: while it executes, a command may take pages
    // (write data, a read into pool pages) that the connection does not see.
    using runtime::BufferPool;
    r.held_bytes = static_cast<uint32_t>(BufferPool::pages_for(r.transfer_length) * BufferPool::kPageSize);
    held_bytes_ += r.held_bytes;
}

void TcpConnection::settle_hold(TcpRequest& r) {
    // Until its response is sent, a command holds pool pages only if its
    // buffer came from the pool (a backend may have lent its own memory).
    if (r.buffer_owner != plugin::BufferOwner::Pool) held_bytes_ -= std::exchange(r.held_bytes, 0);
}

}  // namespace nvmfd::plugins::tcp
