// An NVMe/TCP connection: its life (start, install, close, drain) and its request slots.
#include "plugins/transport_tcp/tcp_connection.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <utility>

#include "core/proto/crc32c.hpp"
#include "core/runtime/log.hpp"
#include "plugins/transport_tcp/tcp_helpers.hpp"
#include "plugins/transport_tcp/tcp_transport.hpp"

namespace nvmfd::plugins::tcp {

using namespace proto::tcp;
using namespace detail;
using proto::DataDirection;

// ---------------------------------------------------------------- requests

TcpRequest::TcpRequest(TcpConnection& c, uint16_t tag) : conn(c), ttag(tag) {}

void TcpRequest::reserve_iovs(uint32_t transfer_length) {
    // Grows once per slot up to what its largest command needs; the core and
    // the backends write at most this many entries (see iov_slots_for_length).
    size_t need = iov_slots_for_length(transfer_length);
    if (iovs.size() >= need) return;
    iovs.resize(need);
    iov_storage = std::span<iovec>(iovs);
}

void TcpRequest::emit(IovEmitter& e) const {
    e.add(hdr, hdr_len);
    e.add(kZeroPad, pad_len);
    if (data_len) {
        uint32_t left = data_len;
        for (uint32_t i = 0; i < iov_count && left; ++i) {
            size_t n = std::min<size_t>(left, iov_storage[i].iov_len);
            e.add(iov_storage[i].iov_base, n);
            left -= static_cast<uint32_t>(n);
        }
        if (send_ddgst) e.add(&ddgst, sizeof ddgst);
    }
    e.add(resp, resp_len);
}

void TcpRequest::on_sent() { conn.on_request_sent(*this); }

void TcpConnection::ControlPdu::on_sent() {
    if (terminates) conn->close("fatal transport error (termination request sent)");
}

// ---------------------------------------------------------------- lifecycle

TcpConnection::TcpConnection(TcpTransport& transport, runtime::Reactor& reactor, int fd, uint16_t port_id,
                             std::string peer, std::string pending_address, plugin::SecureChannel secure)
    : transport_(transport),
      reactor_(reactor),
      options_(transport.options()),
      fd_(fd),
      port_id_(port_id),
      peer_(std::move(peer)),
      pending_address_(std::move(pending_address)),
      rx_(new uint8_t[transport.options().rx_buffer_size]),
      secure_(secure) {
    if (secure_ != plugin::SecureChannel::None) link_ = Link::Detecting;
    icresp_.conn = this;
    term_.conn = this;
    term_.terminates = true;
}

TcpConnection::~TcpConnection() {
    stop_pending();
    if (timeout_timer_) reactor_.cancel_timer(timeout_timer_);
    if (fd_ >= 0) ::close(fd_);
    reactor_.buffers().cancel_wait(*this);
    reactor_.adjust_load(-1);
}


void TcpConnection::start() {
    handler_ = transport_.env().create_queue(*this, port_id_, transport_.limits());
    bootstrap_ = std::make_unique<TcpRequest>(*this, kBootstrapTtag);
    started_ = stall_since_ = runtime::Clock::now();
    reactor_.add_fd(fd_, epoll_events(), *this);
    arm_timeout_check();
    log::debug("tcp: connection from {} on port {}", peer_, port_id_);
}

bool TcpConnection::install_queue(uint16_t qid, uint32_t depth) {
    if (!slots_.empty() || depth == 0 || depth > 65534) return false;
    slots_.reserve(depth);
    for (uint32_t i = 0; i < depth; ++i)
        slots_.push_back(std::make_unique<TcpRequest>(*this, static_cast<uint16_t>(i + 1)));
    free_slots_.reserve(depth);
    for (uint32_t i = depth; i-- > 0;) free_slots_.push_back(static_cast<uint16_t>(i));
    log::debug("tcp: {} queue {} installed with depth {}", peer_, qid, depth);
    stop_pending();  // connected: the controller limits count it from now on
    return true;
}

void TcpConnection::stop_pending() {
    if (!pending_address_.empty()) transport_.pending().release(std::exchange(pending_address_, {}));
}

void TcpConnection::close(std::string_view reason) {
    if (closing_) return;
    closing_ = true;
    close_reason_ = std::string(reason);
    log::debug("tcp: closing connection from {}: {}", peer_, reason);
    // Stop reading; what is queued for sending may still go out.
    update_input();
    reactor_.buffers().cancel_wait(*this);
    waiting_for_rx_buffer_ = nullptr;
    waiting_for_r2t_buffer_.clear();
    waiting_for_budget_.clear();  // never started: finish_close() releases their slots
    // Commands still waiting for write data never reached the core's execute:
    // their slots are released by finish_close(). A host that stops sending
    // write data it was asked for is worth a line.
    unsigned abandoned = 0;
    for_each_slot([&](TcpRequest& r) {
        if (r.state != SlotState::Free && r.state != SlotState::Executing && r.state != SlotState::Sending &&
            r.state != SlotState::WaitingBudget)
            ++abandoned;
    });
    if (abandoned)
        log::warn("tcp: {}: closing with {} write command(s) still waiting for their data", peer_, abandoned);
    // The core completes what it is holding back (AERs); those responses are dropped.
    handler_->on_close_begin();
    finish_close_if_drained();
}

void TcpConnection::finish_close_if_drained() {
    if (!closing_ || dead_) return;
    // Wait for commands the core is still executing: their backend I/O must
    // finish before the host can see the connection gone and retry elsewhere.
    bool executing = false;
    for_each_slot([&](TcpRequest& r) { executing |= r.state == SlotState::Executing; });
    if (!executing) finish_close();
}

void TcpConnection::finish_close() {
    dead_ = true;
    // Best effort: a disconnect response or a termination request goes out first.
    if (timeout_timer_) reactor_.cancel_timer(std::exchange(timeout_timer_, 0));
    if (!tx_.empty() || (tls_ && tls_->blocked())) flush();
    tx_.clear();
    // Nothing executes any more: every slot still busy goes back (pages to
    // the pool, namespace in-flight counts down).
    for_each_slot([&](TcpRequest& r) {
        if (r.state != SlotState::Free) release_slot(r);
    });
    reactor_.remove_fd(fd_);
    if (tls_) tls_->shutdown();
    ::shutdown(fd_, SHUT_RDWR);
    handler_->on_closed();
    log::info("tcp: connection from {} closed ({})", peer_, close_reason_);
    transport_.forget(*this);  // deletes this once the loop turn is over
}

// ---------------------------------------------------------------- slots

TcpRequest* TcpConnection::take_slot() {
    TcpRequest* r = nullptr;
    if (slots_.empty()) {
        if (bootstrap_->state == SlotState::Free) r = bootstrap_.get();
    } else if (!free_slots_.empty()) {
        r = slots_[free_slots_.back()].get();
        free_slots_.pop_back();
    }
    if (r) {
        if (!move_slot(*r, SlotState::Executing)) return nullptr;
        r->data_received = 0;
        r->data_digest_failed = false;
        r->iov_count = 0;
        r->buffer_owner = plugin::BufferOwner::None;
        ++busy_slots_;
    }
    return r;
}

void TcpConnection::release_slot(TcpRequest& r) {
    if (!move_slot(r, SlotState::Free)) return;  // never twice: two commands would share it
    held_bytes_ -= std::exchange(r.held_bytes, 0);
    handler_->release(r);
    --busy_slots_;
    if (&r != bootstrap_.get()) free_slots_.push_back(static_cast<uint16_t>(r.ttag - 1));
}

void TcpConnection::refuse_slot_move(const TcpRequest& r, SlotState to) {
    internal_error(fmt::format("slot {} (command {}) cannot go from {} to {}", r.ttag, r.sqe.cid,
                               slot_state_name(r.state), slot_state_name(to)));
}

void TcpConnection::internal_error(std::string_view what) {
    // A transport bug must cost this host its connection, never corrupt
    // slots, buffers or another host's commands.
    log::error("tcp: {}: internal error: {}; closing the connection", peer_, what);
    close(fmt::format("internal error: {}", what));
}

TcpRequest* TcpConnection::slot_by_ttag(uint16_t ttag) {
    if (ttag == kBootstrapTtag) return bootstrap_.get();
    if (ttag - 1u < slots_.size()) return slots_[ttag - 1].get();
    return nullptr;
}

}  // namespace nvmfd::plugins::tcp
