// Flow control of an NVMe/TCP connection.
//
// Input stops (EPOLLIN off) only while in-capsule data waits for pool pages:
// those bytes sit in the stream ahead of everything else. Stopping the
// stream for any other reason can deadlock: the H2CData that would complete
// (and free) the connection's earlier writes may be right behind.
//
// max_connection_buffer bounds the pool bytes one connection's commands hold
// or may take (write data, reads into pool pages, responses not yet sent):
// a command that would go past it waits for budget in arrival order, parsed
// but not started (no R2T, no execution), while the stream keeps flowing.
// A host that does not read its responses therefore holds at most the cap
// plus one command, and the rest of its queue waits without pages.
#include <sys/epoll.h>
#include <utility>

#include "plugins/transport_tcp/tcp_connection.hpp"

#include "core/runtime/log.hpp"

namespace nvmfd::plugins::tcp {

bool TcpConnection::input_paused() const { return waiting_for_rx_buffer_ != nullptr; }

uint32_t TcpConnection::epoll_events() const {
    return (input_on_ ? uint32_t(EPOLLIN | EPOLLRDHUP) : 0u) | (want_write_ ? uint32_t(EPOLLOUT) : 0u);
}

void TcpConnection::update_input() {
    bool on = !closing_ && !input_paused();
    if (on == input_on_ || dead_) return;
    input_on_ = on;
    reactor_.modify_fd(fd_, epoll_events(), *this);
}

void TcpConnection::refresh_input() {
    if (closing_) return;
    bool was_on = input_on_;
    update_input();
    if (!was_on && input_on_) {
        process_rx();
        if (tls_ && tls_->has_pending()) on_readable();
    }
}

bool TcpConnection::admit(TcpRequest& r, bool first_in_line) {
    // Counted from the start on: while it executes, a command may take pages
    // (write data, a read into pool pages) that the connection does not see.
    using runtime::BufferPool;
    uint64_t need = BufferPool::pages_for(r.transfer_length) * BufferPool::kPageSize;
    bool in_capsule = r.sqe.sgl.type == proto::sgl::kInCapsule;
    // In-capsule data is already in the stream: it cannot wait (it is small,
    // at most in_capsule_data_size per slot). Anything else waits its turn,
    // in arrival order, once the cap is reached; a command alone may exceed it.
    bool fits = held_bytes_ == 0 || held_bytes_ + need <= options_.max_connection_buffer;
    bool my_turn = first_in_line || waiting_for_budget_.empty();
    if (!in_capsule && need > 0 && !(fits && my_turn)) return false;
    r.held_bytes = static_cast<uint32_t>(need);
    held_bytes_ += need;
    return true;
}

void TcpConnection::admit_waiting() {
    while (!closing_ && !waiting_for_budget_.empty()) {
        TcpRequest& r = *waiting_for_budget_.front();
        if (!admit(r, /*first_in_line=*/true)) return;
        waiting_for_budget_.pop_front();
        start_admitted(r);
    }
}

void TcpConnection::settle_hold(TcpRequest& r) {
    // Until its response is sent, a command holds pool pages only if its
    // buffer came from the pool (a backend may have lent its own memory).
    if (r.buffer_owner != plugin::BufferOwner::Pool) held_bytes_ -= std::exchange(r.held_bytes, 0);
}

}  // namespace nvmfd::plugins::tcp
