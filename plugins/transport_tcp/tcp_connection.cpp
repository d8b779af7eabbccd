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
#include "plugins/transport_tcp/tcp_transport.hpp"

namespace nvmfd::plugins::tcp {

using namespace proto::tcp;
using proto::DataDirection;

namespace {

constexpr size_t kDirectReadThreshold = 16 * 1024;  // payloads at least this big bypass the rx buffer
constexpr uint16_t kBootstrapTtag = 0;              // slot i of the installed queue has TTAG i + 1
constexpr uint8_t kZeroPad[128] = {};

bool host_to_controller_type(PduType t) {
    return t == PduType::ICReq || t == PduType::H2CTermReq || t == PduType::CapsuleCmd || t == PduType::H2CData;
}

uint32_t round_up(uint32_t v, uint32_t align) { return (v + align - 1) / align * align; }

size_t iov_slots_for(const TcpOptions& o) {
    // Data buffers are 4 KiB pages; Compare needs room for a second buffer.
    return 2 * (o.max_data_transfer / 4096 + 1);
}

// Calls fn(pointer, length) for each piece of bytes [offset, offset + len)
// of a scatter list, in order; stops early when fn returns false.
template <typename Fn>
void for_each_piece(std::span<const iovec> iov, size_t offset, size_t len, Fn&& fn) {
    for (const iovec& v : iov) {
        if (len == 0) return;
        if (offset >= v.iov_len) {
            offset -= v.iov_len;
            continue;
        }
        size_t k = std::min(len, v.iov_len - offset);
        if (!fn(static_cast<uint8_t*>(v.iov_base) + offset, k)) return;
        len -= k;
        offset = 0;
    }
}

}  // namespace

// ---------------------------------------------------------------- requests

TcpRequest::TcpRequest(TcpConnection& c, uint16_t tag, size_t iov_slots) : conn(c), ttag(tag), iovs(iov_slots) {
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
                             std::string peer)
    : transport_(transport),
      reactor_(reactor),
      options_(transport.options()),
      fd_(fd),
      port_id_(port_id),
      peer_(std::move(peer)),
      rx_(new uint8_t[transport.options().rx_buffer_size]) {
    icresp_.conn = this;
    term_.conn = this;
    term_.terminates = true;
}

TcpConnection::~TcpConnection() {
    if (fd_ >= 0) ::close(fd_);
    reactor_.buffers().cancel_wait(*this);
    reactor_.adjust_load(-1);
}


void TcpConnection::start() {
    handler_ = transport_.env().create_queue(*this, port_id_, transport_.limits());
    bootstrap_ = std::make_unique<TcpRequest>(*this, kBootstrapTtag, iov_slots_for(options_));
    reactor_.add_fd(fd_, EPOLLIN | EPOLLRDHUP, *this);
    log::debug("tcp: connection from {} on port {}", peer_, port_id_);
}

bool TcpConnection::install_queue(uint16_t qid, uint32_t depth) {
    if (!slots_.empty() || depth == 0 || depth > 65534) return false;
    slots_.reserve(depth);
    size_t iov_slots = iov_slots_for(options_);
    for (uint32_t i = 0; i < depth; ++i)
        slots_.push_back(std::make_unique<TcpRequest>(*this, static_cast<uint16_t>(i + 1), iov_slots));
    free_slots_.reserve(depth);
    for (uint32_t i = depth; i-- > 0;) free_slots_.push_back(static_cast<uint16_t>(i));
    log::debug("tcp: {} queue {} installed with depth {}", peer_, qid, depth);
    return true;
}

void TcpConnection::close(std::string_view reason) {
    if (closing_) return;
    closing_ = true;
    close_reason_ = std::string(reason);
    log::debug("tcp: closing connection from {}: {}", peer_, reason);
    // Stop reading; what is queued for sending may still go out.
    reactor_.modify_fd(fd_, want_write_ ? uint32_t(EPOLLOUT) : 0u, *this);
    reactor_.buffers().cancel_wait(*this);
    // Commands still waiting for write data never reached the core's execute.
    unsigned abandoned = 0;
    auto release_receiving = [&](TcpRequest& r) {
        if (r.state == SlotState::ReceivingData) {
            handler_->release(r);
            r.state = SlotState::Free;
            --busy_slots_;
            ++abandoned;
        }
    };
    if (bootstrap_) release_receiving(*bootstrap_);
    for (auto& s : slots_) release_receiving(*s);
    // A host that stops sending write data it was asked for is worth a line.
    if (abandoned)
        log::warn("tcp: {}: closing with {} write command(s) still waiting for their data", peer_, abandoned);
    waiting_for_rx_buffer_ = nullptr;
    waiting_for_r2t_buffer_.clear();
    // The core completes what it is holding back (AERs); those responses are dropped.
    handler_->on_close_begin();
    finish_close_if_drained();
}

void TcpConnection::finish_close_if_drained() {
    if (!closing_ || dead_) return;
    // Wait for commands the core is still executing: their backend I/O must
    // finish before the host can see the connection gone and retry elsewhere.
    for (auto* s : {bootstrap_.get()})
        if (s && s->state == SlotState::Executing) return;
    for (auto& s : slots_)
        if (s->state == SlotState::Executing) return;
    finish_close();
}

void TcpConnection::finish_close() {
    dead_ = true;
    // Best effort: a disconnect response or a termination request goes out first.
    if (!tx_.empty()) flush();
    while (TxItem* item = tx_.pop()) {
        if (item == &icresp_ || item == &term_) continue;
        auto* r = static_cast<TcpRequest*>(item);
        if (r->state == SlotState::Sending) release_slot(*r);
    }
    reactor_.remove_fd(fd_);
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
        r->state = SlotState::Executing;
        r->data_received = 0;
        r->data_digest_failed = false;
        r->iov_count = 0;
        r->buffer_owner = plugin::BufferOwner::None;
        ++busy_slots_;
    }
    return r;
}

void TcpConnection::release_slot(TcpRequest& r) {
    handler_->release(r);
    r.state = SlotState::Free;
    --busy_slots_;
    if (&r != bootstrap_.get()) free_slots_.push_back(static_cast<uint16_t>(r.ttag - 1));
}

TcpRequest* TcpConnection::slot_by_ttag(uint16_t ttag) {
    if (ttag == kBootstrapTtag) return bootstrap_.get();
    if (ttag - 1u < slots_.size()) return slots_[ttag - 1].get();
    return nullptr;
}

// ---------------------------------------------------------------- receive

void TcpConnection::on_fd_event(uint32_t events) {
    if (dead_) return;
    if (events & EPOLLOUT) flush();
    if (closing_) return;
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) on_readable();
}

void TcpConnection::on_readable() {
    // A few reads per event keep one busy connection from starving the rest;
    // epoll is level triggered, so leftover bytes bring us back.
    for (int i = 0; i < 4 && !closing_ && !waiting_for_rx_buffer_; ++i) {
        if (!read_some()) break;
        process_rx();
    }
}

bool TcpConnection::read_some() {
    const size_t cap = options_.rx_buffer_size;
    if (rx_head_ == rx_tail_) rx_head_ = rx_tail_ = 0;
    ssize_t n;
    size_t direct = 0;
    if (in_payload_ && pl_.req && rx_head_ == rx_tail_ && pl_.pad == 0 && pl_.remaining >= kDirectReadThreshold) {
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
        n = ::recv(fd_, rx_.get() + rx_tail_, cap - rx_tail_, MSG_DONTWAIT);
        if (n > 0) rx_tail_ += size_t(n);
    }
    if (n == 0) {
        close("host closed the connection");
        return false;
    }
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return false;
        close(fmt::format("receive error: {}", std::strerror(errno)));
        return false;
    }
    return true;
}

void TcpConnection::process_rx() {
    while (!closing_ && !waiting_for_rx_buffer_) {
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
        if (!handle_header(ch, h, hsize)) break;
    }
    if (rx_head_ == rx_tail_) rx_head_ = rx_tail_ = 0;
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
    if (r->direction == DataDirection::HostToController) {
        if (in_capsule_sgl != (len > 0) || (len && len != r->transfer_length)) {
            // The SGL and the PDU disagree about where the data is.
            r->state = SlotState::ReceivingData;
            fatal(TermFes::InvalidHeaderField, offsetof(CommonHeader, plen), h, ch.hlen);
            return false;
        }
        r->state = SlotState::ReceivingData;
        if (!in_capsule_sgl) {
            if (start_write_data(*r)) send_r2t(*r);
            return true;
        }
        if (!start_write_data(*r)) {
            // Pool empty: stop parsing until pages come back; the data waits in the rx buffer.
            waiting_for_rx_buffer_ = r;
            pl_ = Payload{r, true, pad, len, 0, len, ddgst_, {}, 0, proto::kCrc32cInit};
            return false;
        }
        begin_payload(r, pad, len, 0, true);
        return true;
    }
    if (len) {
        r->state = SlotState::Executing;
        handler_->fail(*r, proto::status::kSglTypeInvalid);
        begin_payload(nullptr, pad, len, 0, true);
        return true;
    }
    handler_->execute(*r);
    return true;
}

bool TcpConnection::start_write_data(TcpRequest& r) {
    size_t n = reactor_.buffers().allocate(r.transfer_length, r.iov_storage);
    if (n == 0) {
        reactor_.buffers().wait(*this);
        if (r.sqe.sgl.type != proto::sgl::kInCapsule) waiting_for_r2t_buffer_.push_back(&r);
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
        size_t n = reactor_.buffers().allocate(r.transfer_length, r.iov_storage);
        if (n == 0) {
            reactor_.buffers().wait(*this);
            return;
        }
        r.iov_count = static_cast<uint32_t>(n);
        r.buffer_owner = plugin::BufferOwner::Pool;
        waiting_for_rx_buffer_ = nullptr;
        in_payload_ = true;
        process_rx();
    }
    while (!waiting_for_r2t_buffer_.empty()) {
        TcpRequest& r = *waiting_for_r2t_buffer_.front();
        size_t n = reactor_.buffers().allocate(r.transfer_length, r.iov_storage);
        if (n == 0) {
            reactor_.buffers().wait(*this);
            return;
        }
        r.iov_count = static_cast<uint32_t>(n);
        r.buffer_owner = plugin::BufferOwner::Pool;
        waiting_for_r2t_buffer_.erase(waiting_for_r2t_buffer_.begin());
        send_r2t(r);
    }
    if (!closing_) process_rx();
}

bool TcpConnection::handle_h2c_data(const CommonHeader& ch, const uint8_t* h, size_t hsize) {
    DataPdu d;
    std::memcpy(&d, h, sizeof d);
    uint32_t pad, len;
    if (!payload_geometry(ch, hsize, pad, len)) return false;
    TcpRequest* r = slot_by_ttag(d.ttag);
    if (!r || r->state != SlotState::ReceivingData || r->sqe.sgl.type == proto::sgl::kInCapsule ||
        r->iov_count == 0) {
        fatal(TermFes::InvalidHeaderField, offsetof(DataPdu, ttag), h, ch.hlen);
        return false;
    }
    if (r->sqe.cid != d.cccid) {
        fatal(TermFes::InvalidHeaderField, offsetof(DataPdu, cccid), h, ch.hlen);
        return false;
    }
    if (d.datal != len) {
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
    pl_.digest = ddgst_;
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
    r.state = SlotState::Executing;
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

// ---------------------------------------------------------------- send

void TcpConnection::enqueue(TxItem& item) {
    tx_.push(item);
    if (!want_write_) reactor_.defer(*this);
}

void TcpConnection::send_r2t(TcpRequest& r) {
    R2T pdu{};
    pdu.ch.type = PduType::R2T;
    pdu.ch.flags = hdgst_ ? flags::kHeaderDigest : 0;
    pdu.ch.hlen = sizeof pdu;
    pdu.ch.plen = sizeof pdu + (hdgst_ ? kDigestSize : 0);
    pdu.cccid = r.sqe.cid;
    pdu.ttag = r.ttag;
    pdu.r2to = 0;
    pdu.r2tl = r.transfer_length;
    std::memcpy(r.hdr, &pdu, sizeof pdu);
    r.hdr_len = sizeof pdu;
    if (hdgst_) {
        uint32_t crc = proto::crc32c(&pdu, sizeof pdu);
        std::memcpy(r.hdr + sizeof pdu, &crc, sizeof crc);
        r.hdr_len += kDigestSize;
    }
    r.pad_len = 0;
    r.data_len = 0;
    r.resp_len = 0;
    r.tx_kind = TxKind::R2T;
    r.tx_total = r.hdr_len;
    enqueue(r);
}

void TcpConnection::queue_response(plugin::Request& req) {
    auto& r = static_cast<TcpRequest&>(req);
    if (closing_) {
        // The host will not hear about it; the slot just goes back.
        if (r.state != SlotState::Free) release_slot(r);
        finish_close_if_drained();
        return;
    }
    bool ok = r.status().ok();
    bool with_data = ok && r.direction == DataDirection::ControllerToHost && r.transfer_length > 0;
    r.hdr_len = 0;
    r.pad_len = 0;
    r.data_len = 0;
    r.send_ddgst = false;
    r.resp_len = 0;
    bool send_resp = true;
    if (with_data) {
        DataPdu pdu{};
        pdu.ch.type = PduType::C2HData;
        pdu.ch.flags = flags::kLastPdu;
        if (hdgst_) pdu.ch.flags |= flags::kHeaderDigest;
        if (ddgst_) pdu.ch.flags |= flags::kDataDigest;
        // With SQ flow control off the host needs no completion for a good read.
        if (sq_flow_disabled_) {
            pdu.ch.flags |= flags::kSuccess;
            send_resp = false;
        }
        pdu.ch.hlen = sizeof pdu;
        uint32_t header = sizeof pdu + (hdgst_ ? kDigestSize : 0);
        uint32_t pdo = round_up(header, host_pda_);
        pdu.ch.pdo = static_cast<uint8_t>(pdo);
        pdu.ch.plen = pdo + r.transfer_length + (ddgst_ ? kDigestSize : 0);
        pdu.cccid = r.sqe.cid;
        pdu.datao = 0;
        pdu.datal = r.transfer_length;
        std::memcpy(r.hdr, &pdu, sizeof pdu);
        r.hdr_len = sizeof pdu;
        if (hdgst_) {
            uint32_t crc = proto::crc32c(&pdu, sizeof pdu);
            std::memcpy(r.hdr + sizeof pdu, &crc, sizeof crc);
            r.hdr_len += kDigestSize;
        }
        r.pad_len = static_cast<uint8_t>(pdo - header);
        r.data_len = r.transfer_length;
        if (ddgst_) {
            r.ddgst = proto::crc32c(std::span<const iovec>(r.iov_storage.data(), r.iov_count), r.transfer_length);
            r.send_ddgst = true;
        }
    }
    if (send_resp) {
        CapsuleResp resp{};
        resp.ch.type = PduType::CapsuleResp;
        resp.ch.flags = hdgst_ ? flags::kHeaderDigest : 0;
        resp.ch.hlen = sizeof resp;
        resp.ch.plen = sizeof resp + (hdgst_ ? kDigestSize : 0);
        resp.cqe = r.cqe;
        std::memcpy(r.resp, &resp, sizeof resp);
        r.resp_len = sizeof resp;
        if (hdgst_) {
            uint32_t crc = proto::crc32c(&resp, sizeof resp);
            std::memcpy(r.resp + sizeof resp, &crc, sizeof crc);
            r.resp_len += kDigestSize;
        }
    }
    r.tx_kind = TxKind::Response;
    r.tx_total = size_t(r.hdr_len) + r.pad_len + r.data_len + (r.send_ddgst ? kDigestSize : 0) + r.resp_len;
    r.state = SlotState::Sending;
    enqueue(r);
}

void TcpConnection::on_request_sent(TcpRequest& r) {
    if (r.tx_kind == TxKind::R2T) return;  // now waiting for H2CData
    release_slot(r);
}

void TcpConnection::flush() {
    while (!tx_.empty()) {
        iovec iov[IOV_MAX];
        IovEmitter e{iov, IOV_MAX};
        for (TxItem* item = tx_.head(); item && !e.full; item = item->tx_next) {
            e.skip = item->tx_sent;
            item->emit(e);
        }
        msghdr msg{};
        msg.msg_iov = iov;
        msg.msg_iovlen = e.count;
        ssize_t n = ::sendmsg(fd_, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                set_want_write(true);
                return;
            }
            // The peer is gone: nothing more can be sent.
            int err = errno;
            while (TxItem* item = tx_.pop()) {
                if (item == &icresp_ || item == &term_) continue;
                auto* r = static_cast<TcpRequest*>(item);
                if (r->state == SlotState::Sending) release_slot(*r);
            }
            if (!closing_) close(fmt::format("send error: {}", std::strerror(err)));
            return;
        }
        size_t sent = size_t(n);
        while (sent > 0 && !tx_.empty()) {
            TxItem* item = tx_.head();
            size_t left = item->tx_total - item->tx_sent;
            if (sent >= left) {
                sent -= left;
                item->tx_sent = item->tx_total;
                tx_.pop();
                item->on_sent();
            } else {
                item->tx_sent += sent;
                sent = 0;
            }
        }
        if (size_t(n) < e.bytes) {
            set_want_write(true);
            return;
        }
    }
    set_want_write(false);
}

void TcpConnection::set_want_write(bool on) {
    if (on == want_write_ || dead_) return;
    want_write_ = on;
    uint32_t events = (closing_ ? 0u : uint32_t(EPOLLIN | EPOLLRDHUP)) | (on ? uint32_t(EPOLLOUT) : 0u);
    reactor_.modify_fd(fd_, events, *this);
}

}  // namespace nvmfd::plugins::tcp
