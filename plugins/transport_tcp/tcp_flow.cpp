// Input flow control of an NVMe/TCP connection: a connection stops reading
// (EPOLLIN off) while it waits for pool pages, and while its busy slots hold
// more pool bytes than max_connection_buffer (a host that does not read its
// responses cannot take the whole pool). Reading resumes when that ends.
// With EPOLLIN on while waiting, level-triggered epoll would report the
// unread bytes on every loop turn: the reactor would spin.
#include <sys/epoll.h>

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
        log::debug("tcp: {}: holds {} bytes of responses the host has not read; reading paused", peer_, held_bytes_);
}

void TcpConnection::refresh_input() {
    if (closing_) return;
    bool was_on = input_on_;
    update_input();
    if (!was_on && input_on_) process_rx();
}

void TcpConnection::hold_buffers(TcpRequest& r) {
    if (r.buffer_owner != plugin::BufferOwner::Pool || r.held_bytes) return;
    using runtime::BufferPool;
    r.held_bytes = static_cast<uint32_t>(BufferPool::pages_for(r.transfer_length) * BufferPool::kPageSize);
    held_bytes_ += r.held_bytes;
}

}  // namespace nvmfd::plugins::tcp
