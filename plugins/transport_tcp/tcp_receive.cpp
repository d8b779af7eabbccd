// The receive side of an NVMe/TCP connection: reading, PDU framing and checks,
// ICReq, command capsules, H2CData and their payloads.
#include "plugins/transport_tcp/tcp_connection.hpp"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/proto/crc32c.hpp"
#include "core/runtime/log.hpp"
#include "plugins/transport_tcp/tcp_helpers.hpp"
#include "plugins/transport_tcp/tcp_transport.hpp"

namespace nvmfd::plugins::tcp {

using namespace proto::tcp;
using namespace detail;
using proto::DataDirection;

// ---------------------------------------------------------------- receive

void TcpConnection::on_fd_event(uint32_t events) {
    if (dead_) return;
    if (link_ != Link::Ready) {
        advance_link(events);
        return;
    }
    if (events & EPOLLOUT) flush();
    if (closing_) return;
    if (input_paused() && (events & (EPOLLHUP | EPOLLERR))) {
        // epoll reports these even with EPOLLIN off: the host is gone, and
        // waiting for it would spin.
        close("host closed the connection while its input was paused");
        return;
    }
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) on_readable();
}

void TcpConnection::on_readable() {
    // A few reads per event keep one busy connection from starving the rest;
    // epoll is level triggered, so leftover bytes bring us back.
    for (int i = 0; i < 4 && !closing_ && !input_paused(); ++i) {
        ReadResult got = read_some();
        if (got == ReadResult::Nothing) break;
        process_rx();
        // A short read emptied the socket: asking again would only cost a
        // recv() that returns EAGAIN (one per command at QD 1).
        if (got == ReadResult::Drained) break;
    }
    // OpenSSL may hold records it read ahead: epoll will not report them.
    while (tls_ && tls_->has_pending() && !closing_ && !input_paused() && read_some() != ReadResult::Nothing)
        process_rx();
}

TcpConnection::ReadResult TcpConnection::read_some() {
    const size_t cap = options_.rx_buffer_size;
    if (rx_head_ == rx_tail_) rx_head_ = rx_tail_ = 0;
    ssize_t n;
    size_t direct = 0;
    size_t room = 0;  // bytes the plaintext read asked for; 0: TLS
    if (tls_) {
        n = tls_read_some(cap);
    } else if (in_payload_ && pl_.req && rx_head_ == rx_tail_ && pl_.pad == 0 && pl_.remaining >= kDirectReadThreshold) {
        // Read the payload straight into the command's pages, and whatever
        // follows it into the rx buffer, in one system call.
        iovec iov[64];
        size_t cnt = 0;
        for_each_piece(pl_.req->data(), pl_.offset, pl_.remaining, [&](uint8_t* p, size_t k) {
            iov[cnt++] = iovec{p, k};
            direct += k;
            return cnt < 63;  // the last slot is the rx buffer's
        });
        iov[cnt++] = iovec{rx_.get(), cap};
        room = direct + cap;
        n = ::readv(fd_, iov, static_cast<int>(cnt));
        if (n > 0) {
            size_t into_payload = std::min<size_t>(size_t(n), direct);
            payload_received(into_payload);
            rx_tail_ = size_t(n) - into_payload;
        }
    } else {
        if (rx_tail_ == cap) {
            // Move a partial PDU header to the front to make room.
            std::memmove(rx_.get(), rx_.get() + rx_head_, rx_tail_ - rx_head_);
            rx_tail_ -= rx_head_;
            rx_head_ = 0;
        }
        room = cap - rx_tail_;
        n = ::recv(fd_, rx_.get() + rx_tail_, room, MSG_DONTWAIT);
        if (n > 0) rx_tail_ += size_t(n);
    }
    if (n == 0) {
        close("host closed the connection");
        return ReadResult::Nothing;
    }
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return ReadResult::Nothing;
        close(fmt::format("receive error: {}", std::strerror(errno)));
        return ReadResult::Nothing;
    }
    return room != 0 && size_t(n) < room ? ReadResult::Drained : ReadResult::More;
}

void TcpConnection::process_rx() {
    while (!closing_ && !input_paused()) {
        if (in_payload_) {
            if (!consume_payload()) break;
            continue;
        }
        size_t avail = rx_tail_ - rx_head_;
        if (avail < sizeof(CommonHeader)) break;
        const uint8_t* h = rx_.get() + rx_head_;
        CommonHeader ch;
        std::memcpy(&ch, h, sizeof ch);
        if (!ic_done_ && ch.type != PduType::ICReq) {
            fatal(TermFes::PduSequenceError, 0, h, std::min<size_t>(avail, sizeof ch));
            break;
        }
        uint8_t expected = header_length(ch.type);
        if (expected == 0 || !host_to_controller_type(ch.type)) {
            fatal(TermFes::InvalidHeaderField, offsetof(CommonHeader, type), h, sizeof ch);
            break;
        }
        if (ch.hlen != expected) {
            fatal(TermFes::InvalidHeaderField, offsetof(CommonHeader, hlen), h, sizeof ch);
            break;
        }
        bool with_hdgst = hdgst_ && ch.type != PduType::ICReq && ch.type != PduType::H2CTermReq;
        size_t hsize = ch.hlen + (with_hdgst ? kDigestSize : 0);
        if (ch.plen < hsize) {
            fatal(TermFes::InvalidHeaderField, offsetof(CommonHeader, plen), h, sizeof ch);
            break;
        }
        if (avail < hsize) break;
        if (with_hdgst != bool(ch.flags & flags::kHeaderDigest)) {
            fatal(TermFes::InvalidHeaderField, offsetof(CommonHeader, flags), h, ch.hlen);
            break;
        }
        if (with_hdgst) {
            uint32_t got;
            std::memcpy(&got, h + ch.hlen, sizeof got);
            if (got != proto::crc32c(h, ch.hlen)) {
                log::warn("tcp: {}: header digest error", peer_);
                fatal(TermFes::HeaderDigestError, 0, h, ch.hlen);
                break;
            }
        }
        rx_head_ += hsize;
        if (ch.plen == hsize) ++pdus_parsed_;  // a PDU with a payload counts when the payload is in
        if (!handle_header(ch, h, hsize)) break;
    }
    if (rx_head_ == rx_tail_) rx_head_ = rx_tail_ = 0;
    update_input();
}

bool TcpConnection::handle_header(const CommonHeader& ch, const uint8_t* h, size_t hsize) {
    switch (ch.type) {
    case PduType::ICReq: return handle_icreq(ch, h);
    case PduType::CapsuleCmd: return handle_capsule(ch, h, hsize);
    case PduType::H2CData: return handle_h2c_data(ch, h, hsize);
    case PduType::H2CTermReq: {
        TermReq t;
        std::memcpy(&t, h, sizeof t);
        log::warn("tcp: host {} terminated the connection (FES {})", peer_, t.fes);
        close(fmt::format("host sent a termination request (FES {})", t.fes));
        return false;
    }
    default:
        fatal(TermFes::InvalidHeaderField, 0, h, ch.hlen);
        return false;
    }
}

bool TcpConnection::handle_icreq(const CommonHeader& ch, const uint8_t* h) {
    ICReq req;
    std::memcpy(&req, h, sizeof req);
    if (ic_done_) {
        fatal(TermFes::PduSequenceError, 0, h, sizeof req);
        return false;
    }
    if (ch.plen != sizeof(ICReq)) {
        fatal(TermFes::InvalidHeaderField, offsetof(CommonHeader, plen), h, sizeof req);
        return false;
    }
    if (ch.flags & (flags::kHeaderDigest | flags::kDataDigest)) {
        fatal(TermFes::InvalidHeaderField, offsetof(CommonHeader, flags), h, sizeof req);
        return false;
    }
    if (req.pfv != 0) {
        fatal(TermFes::UnsupportedParameter, offsetof(ICReq, pfv), h, sizeof req);
        return false;
    }
    if (req.hpda > kMaxHpda) {
        fatal(TermFes::InvalidHeaderField, offsetof(ICReq, hpda), h, sizeof req);
        return false;
    }
    host_pda_ = (uint32_t(req.hpda) + 1) * 4;

    ICResp resp{};
    resp.ch.type = PduType::ICResp;
    resp.ch.hlen = sizeof resp;
    resp.ch.plen = sizeof resp;
    resp.pfv = 0;
    resp.cpda = 0;  // no alignment asked of the host's data
    resp.dgst = req.dgst & (kDigestHeader | kDigestData);  // whatever the host asks for
    resp.maxh2cdata = options_.max_h2c_data;
    std::memcpy(icresp_.bytes, &resp, sizeof resp);
    icresp_.len = sizeof resp;
    icresp_.tx_total = icresp_.len;
    enqueue(icresp_);
    // Digests apply to every PDU after the ICResp.
    hdgst_ = resp.dgst & kDigestHeader;
    ddgst_ = resp.dgst & kDigestData;
    ic_done_ = true;
    log::debug("tcp: {} ICReq: hpda {} digests {}{}", peer_, req.hpda, hdgst_ ? "header " : "",
               ddgst_ ? "data" : "");
    return true;
}

// Where a PDU's data starts and how long it is; false after a fatal error.
bool TcpConnection::payload_geometry(const CommonHeader& ch, size_t hsize, uint32_t& pad, uint32_t& len) {
    pad = len = 0;
    if (ch.plen == hsize) return true;
    const uint8_t* h = rx_.get() + rx_head_ - hsize;
    if (ch.pdo < hsize || ch.pdo >= ch.plen) {
        fatal(TermFes::InvalidHeaderField, offsetof(CommonHeader, pdo), h, ch.hlen);
        return false;
    }
    if (ddgst_ != bool(ch.flags & flags::kDataDigest)) {
        fatal(TermFes::InvalidHeaderField, offsetof(CommonHeader, flags), h, ch.hlen);
        return false;
    }
    uint32_t tail = ddgst_ ? kDigestSize : 0;
    if (ch.plen < uint32_t(ch.pdo) + tail + 1) {
        fatal(TermFes::InvalidHeaderField, offsetof(CommonHeader, plen), h, ch.hlen);
        return false;
    }
    pad = static_cast<uint32_t>(ch.pdo - hsize);
    len = ch.plen - ch.pdo - tail;
    return true;
}

bool TcpConnection::handle_capsule(const CommonHeader& ch, const uint8_t* h, size_t hsize) {
    uint32_t pad, len;
    if (!payload_geometry(ch, hsize, pad, len)) return false;
    if (len > options_.in_capsule_data_size) {
        fatal(TermFes::DataLimitExceeded, offsetof(CommonHeader, plen), h, ch.hlen);
        return false;
    }
    TcpRequest* r = take_slot();
    if (!r) {
        // The host ignored the queue size it asked for.
        log::warn("tcp: {} sent more commands than its queue holds", peer_);
        fatal(TermFes::PduSequenceError, 0, h, ch.hlen);
        return false;
    }
    std::memcpy(&r->sqe, h + sizeof(CommonHeader), sizeof r->sqe);
    bool in_capsule_sgl = r->sqe.sgl.type == proto::sgl::kInCapsule;
    if (!handler_->prepare(*r)) {
        // Completed with an error; any data that came with it is skipped.
        if (len) begin_payload(nullptr, pad, len, 0, true);
        return true;
    }
    // Before any buffer is taken: the core and backends fill iov_storage.
    r->reserve_iovs(r->transfer_length);
    bool write = r->direction == DataDirection::HostToController;
    if (write && (in_capsule_sgl != (len > 0) || (len && len != r->transfer_length))) {
        // The SGL and the PDU disagree about where the data is.
        if (!move_slot(*r, SlotState::WaitingBuffers)) return false;  // a fatal error releases it
        fatal(TermFes::InvalidHeaderField, offsetof(CommonHeader, plen), h, ch.hlen);
        return false;
    }
    if (!write && len) {
        handler_->fail(*r, proto::status::kSglTypeInvalid);
        begin_payload(nullptr, pad, len, 0, true);
        return true;
    }
    if (!admit(*r)) {
        // Over the connection's budget: it starts when earlier commands free
        // some; the stream goes on (their write data may be next in it).
        if (!move_slot(*r, SlotState::WaitingBudget)) return false;
        waiting_for_budget_.push_back(r);
        return true;
    }
    if (!write || !in_capsule_sgl) {
        start_admitted(*r);
        return true;
    }
    if (!move_slot(*r, SlotState::WaitingBuffers)) return false;
    if (!take_pool_buffers(*r)) {
        // Pool empty: stop parsing until pages come back; the data waits in the rx buffer.
        waiting_for_rx_buffer_ = r;
        pl_ = Payload{r, true, pad, len, 0, len, ddgst_, {}, 0, proto::kCrc32cInit};
        return false;
    }
    if (!move_slot(*r, SlotState::ReceivingCapsuleData)) return false;
    begin_payload(r, pad, len, 0, true);
    return true;
}

// A command within the connection's budget whose data is not in the stream:
// a write asks for its data (R2T) once it has pages, anything else runs.
void TcpConnection::start_admitted(TcpRequest& r) {
    if (r.direction == DataDirection::HostToController) {
        if (!move_slot(r, SlotState::WaitingBuffers)) return;
        if (take_pool_buffers(r)) send_r2t(r);
        else waiting_for_r2t_buffer_.push_back(&r);
        return;
    }
    if (r.state == SlotState::WaitingBudget && !move_slot(r, SlotState::Executing)) return;
    handler_->execute(r);
}

bool TcpConnection::take_pool_buffers(TcpRequest& r) {
    size_t n = reactor_.buffers().allocate(r.transfer_length, r.iov_storage);
    if (n == 0) {
        reactor_.buffers().wait(*this);  // on_buffers_available() tries again
        return false;
    }
    r.iov_count = static_cast<uint32_t>(n);
    r.buffer_owner = plugin::BufferOwner::Pool;
    return true;
}

void TcpConnection::on_buffers_available() {
    if (closing_) return;
    if (waiting_for_rx_buffer_) {
        TcpRequest& r = *waiting_for_rx_buffer_;
        if (!take_pool_buffers(r)) return;
        waiting_for_rx_buffer_ = nullptr;
        if (!move_slot(r, SlotState::ReceivingCapsuleData)) return;
        in_payload_ = true;
    }
    while (!waiting_for_r2t_buffer_.empty()) {
        TcpRequest& r = *waiting_for_r2t_buffer_.front();
        if (!take_pool_buffers(r)) return;
        waiting_for_r2t_buffer_.erase(waiting_for_r2t_buffer_.begin());
        send_r2t(r);
    }
    // Input was paused while waiting; what is already buffered gets no epoll event.
    refresh_input();
}

bool TcpConnection::handle_h2c_data(const CommonHeader& ch, const uint8_t* h, size_t hsize) {
    DataPdu d;
    std::memcpy(&d, h, sizeof d);
    uint32_t pad, len;
    if (!payload_geometry(ch, hsize, pad, len)) return false;
    TcpRequest* r = slot_by_ttag(d.ttag);
    // Only a TTAG whose R2T is on the wire: data that arrives before the R2T
    // was sent (a guessed TTAG) or for a command that never asked is refused.
    if (!r || r->state != SlotState::AwaitingH2CData) {
        fatal(TermFes::InvalidHeaderField, offsetof(DataPdu, ttag), h, ch.hlen);
        return false;
    }
    if (r->sqe.cid != d.cccid) {
        fatal(TermFes::InvalidHeaderField, offsetof(DataPdu, cccid), h, ch.hlen);
        return false;
    }
    // An H2CData PDU carries data (as the kernel's nvmet also requires); one
    // without any would also have no data digest to read.
    if (d.datal != len || d.datal == 0) {
        fatal(TermFes::InvalidHeaderField, offsetof(DataPdu, datal), h, ch.hlen);
        return false;
    }
    if (d.datal > options_.max_h2c_data) {
        fatal(TermFes::DataLimitExceeded, offsetof(DataPdu, datal), h, ch.hlen);
        return false;
    }
    if (d.datao != r->data_received) {
        fatal(TermFes::DataOutOfRange, offsetof(DataPdu, datao), h, ch.hlen);
        return false;
    }
    if (uint64_t(d.datao) + d.datal > r->transfer_length) {
        fatal(TermFes::DataOutOfRange, offsetof(DataPdu, datal), h, ch.hlen);
        return false;
    }
    begin_payload(r, pad, len, d.datao, false);
    return true;
}

void TcpConnection::begin_payload(TcpRequest* r, uint32_t pad, uint32_t len, uint32_t offset, bool in_capsule) {
    pl_ = Payload{};
    pl_.req = r;
    pl_.in_capsule = in_capsule;
    pl_.pad = pad;
    pl_.remaining = len;
    pl_.offset = offset;
    pl_.length = len;
    pl_.digest = ddgst_ && len > 0;  // no data, no data digest
    pl_.crc = proto::kCrc32cInit;
    in_payload_ = true;
}

// n payload bytes arrived directly in the command's buffer (readv path).
void TcpConnection::payload_received(size_t n) {
    if (pl_.digest)
        for_each_piece(pl_.req->data(), pl_.offset, n, [&](uint8_t* p, size_t k) {
            pl_.crc = proto::crc32c_update(pl_.crc, p, k);
            return true;
        });
    pl_.offset += static_cast<uint32_t>(n);
    pl_.remaining -= static_cast<uint32_t>(n);
}

// Move payload bytes from the rx buffer; true once the payload is complete.
bool TcpConnection::consume_payload() {
    size_t avail = rx_tail_ - rx_head_;
    if (pl_.pad) {
        size_t n = std::min<size_t>(avail, pl_.pad);
        rx_head_ += n;
        avail -= n;
        pl_.pad -= static_cast<uint32_t>(n);
        if (pl_.pad) return false;
    }
    if (pl_.remaining) {
        size_t n = std::min<size_t>(avail, pl_.remaining);
        if (n == 0) return false;
        const uint8_t* src = rx_.get() + rx_head_;
        if (pl_.req) {
            if (pl_.digest) pl_.crc = proto::crc32c_update(pl_.crc, src, n);
            for_each_piece(pl_.req->data(), pl_.offset, n, [&](uint8_t* p, size_t k) {
                std::memcpy(p, src, k);
                src += k;
                return true;
            });
        }
        rx_head_ += n;
        avail -= n;
        pl_.offset += static_cast<uint32_t>(n);
        pl_.remaining -= static_cast<uint32_t>(n);
        if (pl_.remaining) return false;
    }
    if (pl_.digest && pl_.digest_have < kDigestSize) {
        size_t n = std::min<size_t>(avail, kDigestSize - pl_.digest_have);
        std::memcpy(pl_.digest_bytes + pl_.digest_have, rx_.get() + rx_head_, n);
        rx_head_ += n;
        pl_.digest_have += static_cast<uint32_t>(n);
        if (pl_.digest_have < kDigestSize) return false;
    }
    payload_done();
    return true;
}

void TcpConnection::payload_done() {
    in_payload_ = false;
    ++pdus_parsed_;
    TcpRequest* r = pl_.req;
    if (!r) return;  // discarded bytes
    if (pl_.digest) {
        uint32_t got;
        std::memcpy(&got, pl_.digest_bytes, sizeof got);
        if (got != proto::crc32c_final(pl_.crc)) {
            log::warn("tcp: {}: data digest error on command {}", peer_, r->sqe.cid);
            r->data_digest_failed = true;
        }
    }
    r->data_received += pl_.length;
    if (r->data_received == r->transfer_length) data_complete(*r);
}

void TcpConnection::data_complete(TcpRequest& r) {
    if (!move_slot(r, SlotState::Executing)) return;
    // Corrupted write data is never written: the command fails and the host may retry.
    if (r.data_digest_failed)
        handler_->fail(r, proto::status::kTransientTransportError);
    else
        handler_->execute(r);
}

void TcpConnection::fatal(TermFes fes, uint32_t fei, const uint8_t* hdr, size_t hdr_len) {
    if (closing_) return;
    log::warn("tcp: {}: fatal protocol error (FES {}, field offset {}); terminating the connection", peer_,
              uint16_t(fes), fei);
    TermReq t{};
    t.ch.type = PduType::C2HTermReq;
    t.ch.hlen = sizeof t;
    size_t echo = std::min<size_t>(hdr_len, kTermMaxErrorData);
    t.ch.plen = static_cast<uint32_t>(sizeof t + echo);
    t.fes = static_cast<uint16_t>(fes);
    std::memcpy(t.fei, &fei, sizeof t.fei);
    std::memcpy(term_.bytes, &t, sizeof t);
    if (echo) std::memcpy(term_.bytes + sizeof t, hdr, echo);
    term_.len = sizeof t + echo;
    term_.tx_total = term_.len;
    enqueue(term_);
    close(fmt::format("protocol error (FES {})", uint16_t(fes)));
}

}  // namespace nvmfd::plugins::tcp
