#include "tools/host/queue.hpp"

#include <bit>
#include <cstring>
#include <fmt/format.h>
#include <poll.h>
#include <stdexcept>

#include "core/proto/crc32c.hpp"
#include "tools/host/commands.hpp"
#include "tools/host/errors.hpp"

namespace nvmfd::host {

using namespace proto::tcp;
using proto::DataDirection;

namespace {

constexpr size_t kMinReceiveBuffer = 16 * 1024;
// Compact the receive buffer when less than this is free at its end.
constexpr size_t kMinReceiveSpace = 4096;
constexpr uint8_t kPsdtSgl = 0x40;  // NVMe-oF commands use SGLs (PSDT 01b)

DataDirection direction_of(const proto::Sqe& sqe) {
    // Fabrics commands carry the direction in FCTYPE, the others in the opcode.
    uint8_t code = sqe.opcode == static_cast<uint8_t>(proto::AdminOpcode::Fabrics) ? sqe.fctype() : sqe.opcode;
    return proto::opcode_direction(code);
}

const char* direction_name(DataDirection d) {
    switch (d) {
    case DataDirection::None: return "no data";
    case DataDirection::HostToController: return "host-to-controller data";
    case DataDirection::ControllerToHost: return "controller-to-host data";
    case DataDirection::Bidirectional: return "bidirectional data";
    }
    return "?";
}

}  // namespace

Transfer Transfer::to_controller(std::span<const std::byte> data, DataPlacement placement) {
    if (data.size() > UINT32_MAX) throw std::invalid_argument("transfer above 4 GiB");
    return {DataDirection::HostToController, const_cast<std::byte*>(data.data()), static_cast<uint32_t>(data.size()),
            placement};
}

Transfer Transfer::from_controller(std::span<std::byte> data) {
    if (data.size() > UINT32_MAX) throw std::invalid_argument("transfer above 4 GiB");
    return {DataDirection::ControllerToHost, data.data(), static_cast<uint32_t>(data.size()), DataPlacement::Auto};
}

Queue::Queue(Connection connection, uint16_t qid, uint16_t depth, QueueOptions options)
    : connection_(std::move(connection)), qid_(qid), options_(options), slots_(depth) {
    if (depth == 0) throw std::invalid_argument("queue depth 0");
    index_bits_ = static_cast<unsigned>(std::bit_width(unsigned(depth - 1)));
    free_.reserve(depth);
    for (size_t i = depth; i-- > 0;) free_.push_back(static_cast<uint16_t>(i));
    in_capsule_limit_ = qid == 0 ? 8192 : 0;
    rx_.resize(std::max(options_.receive_buffer_size, kMinReceiveBuffer));
}

void Queue::check_usable() const {
    if (failed_) throw ConnectionError(fmt::format("queue {} is unusable after an earlier error: {}", qid_, failure_));
}

std::string Queue::describe(const Slot& slot) const {
    return fmt::format("command id {} ({}, opcode {:#04x}) on queue {}", slot.cid, cmd::opcode_name(slot.opcode, qid_ == 0),
                       slot.opcode, qid_);
}

uint16_t Queue::submit(const proto::Sqe& sqe, const Transfer& transfer, CompletionCallback callback,
                       SubmitFlags flags) {
    check_usable();
    if (free_.empty())
        throw std::logic_error(fmt::format("queue {}: all {} command slots are in use", qid_, slots_.size()));
    DataDirection implied = direction_of(sqe);
    if (transfer.direction == DataDirection::None ? transfer.length != 0
                                                  : transfer.direction != implied || transfer.length == 0)
        throw std::invalid_argument(fmt::format("opcode {:#04x} moves {}, but the transfer given has {} of {} bytes",
                                                sqe.opcode, direction_name(implied),
                                                direction_name(transfer.direction), transfer.length));

    uint16_t index = free_.back();
    free_.pop_back();
    Slot& slot = slots_[index];
    slot.cid = static_cast<uint16_t>(index | (uint32_t(slot.generation) << index_bits_));
    slot.busy = true;
    slot.callback = callback;
    slot.data = transfer.data;
    slot.length = transfer.length;
    slot.done_bytes = 0;
    slot.direction = transfer.direction;
    slot.opcode = sqe.opcode;
    slot.no_timeout = flags.no_timeout;
    slot.h2c_used = 0;
    slot.in_capsule = transfer.direction == DataDirection::HostToController &&
                      (transfer.placement == DataPlacement::InCapsule ||
                       (transfer.placement == DataPlacement::Auto && transfer.length <= in_capsule_limit_));

    proto::Sqe wire = sqe;
    wire.cid = slot.cid;
    if (!flags.keep_psdt) wire.flags = static_cast<uint8_t>((wire.flags & 0x3f) | kPsdtSgl);
    wire.sgl = proto::SglDescriptor{};
    wire.sgl.length = transfer.length;
    wire.sgl.type = slot.in_capsule ? proto::sgl::kInCapsule : proto::sgl::kTransport;

    uint32_t in_capsule_bytes = slot.in_capsule ? transfer.length : 0;
    size_t header = pdu::build_capsule_header(pdu::HeaderArea(slot.capsule), wire, in_capsule_bytes, params());
    send_.push(slot.capsule, header);
    if (in_capsule_bytes > 0) {
        send_.push(transfer.data, in_capsule_bytes);
        if (params().data_digest) {
            slot.capsule_digest = proto::crc32c(transfer.data, in_capsule_bytes);
            send_.push(&slot.capsule_digest, sizeof slot.capsule_digest);
        }
        slot.done_bytes = in_capsule_bytes;
    }
    slot.send_end = send_.queued_position();
    slot.submitted = Clock::now();
    ++in_flight_;
    return slot.cid;
}

void Queue::send_now() {
    if (!send_.flush(connection_.socket())) connection_closed(0);
}

void Queue::flush() {
    check_usable();
    try {
        send_now();
    } catch (const Error& e) {
        failed_ = true;
        failure_ = e.what();
        throw;
    }
}

void Queue::flush_until(uint64_t position) {
    Deadline deadline = deadline_after(options_.command_timeout);
    for (;;) {
        send_now();
        if (send_.sent_position() >= position) return;
        if (connection_.socket().wait(POLLOUT, deadline) == 0)
            throw TimeoutError(fmt::format("queue {}: sending stalled for {} ms (the target does not read)", qid_,
                                           options_.command_timeout.count()));
    }
}

short Queue::wanted_events() const { return static_cast<short>(POLLIN | (send_.empty() ? 0 : POLLOUT)); }

size_t Queue::poll(std::chrono::milliseconds wait) {
    check_usable();
    if (processing_) throw std::logic_error("Queue::poll called from a completion callback");
    uint64_t before = completed_;
    try {
        send_now();
        drain_socket();
        if (completed_ == before && wait.count() > 0) {
            if (connection_.socket().wait(wanted_events(), deadline_after(wait)) != 0) {
                send_now();
                drain_socket();
            }
        }
        send_now();  // what the callbacks submitted
        check_timeouts(Clock::now());
    } catch (const Error& e) {
        failed_ = true;
        failure_ = e.what();
        throw;
    }
    return completed_ - before;
}

Completion Queue::execute(const proto::Sqe& sqe, const Transfer& transfer, std::chrono::milliseconds timeout) {
    Completion result;
    bool done = false;
    submit(sqe, transfer, [&result, &done](const Completion& c) {
        result = c;
        done = true;
    });
    run_until([&done] { return done; }, timeout.count() > 0 ? timeout : options_.command_timeout,
              cmd::opcode_name(sqe.opcode, qid_ == 0));
    return result;
}

void Queue::fail_timeout(std::string_view what, std::chrono::milliseconds timeout) {
    failed_ = true;
    failure_ = fmt::format("queue {}: {} did not finish within {} ms ({} commands outstanding)", qid_, what,
                           timeout.count(), in_flight_);
    throw TimeoutError(failure_);
}

void Queue::connection_closed(int error) {
    throw ConnectionError(fmt::format("queue {}: the target closed the connection{} with {} commands outstanding",
                                      qid_, error ? fmt::format(" ({})", std::strerror(error)) : "", in_flight_));
}

void Queue::check_timeouts(Clock::time_point now) {
    if (now < next_timeout_check_ || in_flight_ == 0) return;
    next_timeout_check_ = now + std::min(options_.command_timeout / 4, std::chrono::milliseconds(100));
    for (const Slot& slot : slots_) {
        if (slot.busy && !slot.no_timeout && now - slot.submitted > options_.command_timeout)
            throw TimeoutError(fmt::format("{} not completed within {} ms", describe(slot),
                                           options_.command_timeout.count()));
    }
}

Queue::Slot* Queue::find(uint16_t cid) {
    size_t index = cid & ((1u << index_bits_) - 1);
    if (index >= slots_.size()) return nullptr;
    Slot& slot = slots_[index];
    return slot.busy && slot.cid == cid ? &slot : nullptr;
}

void Queue::complete(Slot& slot, const Completion& completion) {
    // The callback may free the buffer: the last of its bytes must have left.
    if (send_.sent_position() < slot.send_end) flush_until(slot.send_end);
    CompletionCallback callback = slot.callback;
    slot.callback.reset();
    slot.busy = false;
    ++slot.generation;
    free_.push_back(static_cast<uint16_t>(&slot - slots_.data()));
    --in_flight_;
    ++completed_;
    if (callback) {
        processing_ = true;
        struct Reset {
            bool& flag;
            ~Reset() { flag = false; }
        } reset{processing_};
        callback(completion);
    }
}

// --- receive path ---------------------------------------------------------

size_t Queue::receive() {
    Socket& socket = connection_.socket();
    IoResult r;
    if (rx_state_ == RxState::Data && rx_begin_ == rx_end_ && rx_left_ >= options_.direct_receive_threshold) {
        // Large read data goes straight into the command's buffer; whatever
        // follows it (digest, next PDUs) lands in the receive buffer.
        rx_begin_ = rx_end_ = 0;
        iovec iov[2] = {{rx_dest_, rx_left_}, {rx_.data(), rx_.size()}};
        r = socket.receive_some(iov, 2);
        if (r.status == IoStatus::Closed) connection_closed(r.error);
        if (r.status == IoStatus::WouldBlock) return 0;
        size_t direct = std::min<size_t>(r.bytes, rx_left_);
        consume_data(rx_dest_, direct);
        rx_end_ = r.bytes - direct;
        if (rx_left_ == 0) finish_c2h_data();
        return r.bytes;
    }
    if (rx_begin_ == rx_end_) {
        rx_begin_ = rx_end_ = 0;
    } else if (rx_.size() - rx_end_ < kMinReceiveSpace) {
        std::memmove(rx_.data(), rx_.data() + rx_begin_, rx_end_ - rx_begin_);
        rx_end_ -= rx_begin_;
        rx_begin_ = 0;
    }
    r = socket.receive_some(rx_.data() + rx_end_, rx_.size() - rx_end_);
    if (r.status == IoStatus::Closed) connection_closed(r.error);
    if (r.status == IoStatus::WouldBlock) return 0;
    rx_end_ += r.bytes;
    return r.bytes;
}

void Queue::drain_socket() {
    // Bounded so that a flood of completions still lets sends go out.
    for (int round = 0; round < 8; ++round) {
        size_t space = rx_.size() - rx_end_;
        size_t got = receive();
        if (got == 0) return;
        process_received();
        if (got < space) return;  // a short read: the socket is empty for now
    }
}

void Queue::consume_data(const std::byte* from, size_t length) {
    if (from != rx_dest_) std::memcpy(rx_dest_, from, length);
    if (params().data_digest) rx_crc_ = proto::crc32c_update(rx_crc_, rx_dest_, length);
    rx_dest_ += length;
    rx_left_ -= static_cast<uint32_t>(length);
}

void Queue::process_received() {
    for (;;) {
        size_t available = rx_end_ - rx_begin_;
        const std::byte* at = rx_.data() + rx_begin_;
        switch (rx_state_) {
        case RxState::Header: {
            if (available < sizeof(CommonHeader)) return;
            CommonHeader ch;
            std::memcpy(&ch, at, sizeof ch);
            uint32_t header_bytes = pdu::check_common_header(ch, params());
            if (available < header_bytes) return;
            rx_begin_ += header_bytes;  // before dispatch: completions run callbacks
            dispatch(ch, at, header_bytes);
            break;
        }
        case RxState::Padding: {
            size_t n = std::min<size_t>(available, rx_left_);
            rx_begin_ += n;
            rx_left_ -= static_cast<uint32_t>(n);
            if (rx_left_ > 0) return;
            rx_state_ = RxState::Data;
            rx_left_ = rx_layout_.data_length;
            break;
        }
        case RxState::Data: {
            size_t n = std::min<size_t>(available, rx_left_);
            consume_data(at, n);
            rx_begin_ += n;
            if (rx_left_ > 0) return;
            finish_c2h_data();
            break;
        }
        case RxState::DataDigest: {
            if (available < kDigestSize) return;
            uint32_t received;
            std::memcpy(&received, at, sizeof received);
            rx_begin_ += kDigestSize;
            uint32_t computed = proto::crc32c_final(rx_crc_);
            if (received != computed)
                throw ProtocolError(fmt::format("C2HData for {}: data digest {:#010x}, computed {:#010x}",
                                                describe(*rx_slot_), received, computed));
            rx_state_ = RxState::Header;
            rx_crc_ = proto::kCrc32cInit;
            rx_left_ = 0;
            finish_c2h_data();
            break;
        }
        }
    }
}

void Queue::dispatch(const CommonHeader& ch, const std::byte* header, uint32_t header_bytes) {
    if (ch.type == PduType::C2HTermReq) return on_term_req(header, header_bytes);
    pdu::check_header_digest(header, ch.hlen, params());
    switch (ch.type) {
    case PduType::CapsuleResp:
        pdu::check_no_data_pdu(ch, params());
        return on_capsule_resp(header);
    case PduType::R2T:
        pdu::check_no_data_pdu(ch, params());
        return on_r2t(header);
    case PduType::C2HData: return on_c2h_data(header);
    default: break;  // check_common_header let no other type through
    }
}

void Queue::on_term_req(const std::byte* pdu, uint32_t length) {
    TermReq term;
    std::memcpy(&term, pdu, sizeof term);
    uint32_t fei;
    std::memcpy(&fei, term.fei, sizeof fei);
    throw TermReqError(term.fes, fei,
                       fmt::format("queue {}: {}", qid_,
                                   pdu::describe_term_req(term, std::span(pdu + sizeof term, length - sizeof term))));
}

void Queue::on_capsule_resp(const std::byte* header) {
    CapsuleResp resp;
    std::memcpy(&resp, header, sizeof resp);
    Slot* slot = find(resp.cqe.cid);
    if (!slot)
        throw ProtocolError(fmt::format("queue {}: CapsuleResp for command id {} which is not outstanding", qid_,
                                        resp.cqe.cid));
    Completion c;
    c.status = proto::Status::from_cqe(resp.cqe.status);
    c.dw0 = resp.cqe.dw0;
    c.dw1 = static_cast<uint32_t>(resp.cqe.result64 >> 32);
    c.cid = resp.cqe.cid;
    c.sqhd = resp.cqe.sqhd;
    if (c.status.ok() && slot->done_bytes != slot->length) {
        if (slot->direction == DataDirection::ControllerToHost)
            throw ProtocolError(fmt::format("{} completed successfully after only {} of {} data bytes", describe(*slot),
                                            slot->done_bytes, slot->length));
        throw ProtocolError(fmt::format("{} completed successfully but R2Ts asked for only {} of {} data bytes",
                                        describe(*slot), slot->done_bytes, slot->length));
    }
    complete(*slot, c);
}

void Queue::on_r2t(const std::byte* header) {
    R2T r2t;
    std::memcpy(&r2t, header, sizeof r2t);
    Slot* slot = find(r2t.cccid);
    if (!slot) throw ProtocolError(fmt::format("queue {}: R2T for command id {} which is not outstanding", qid_, r2t.cccid));
    if (slot->direction != DataDirection::HostToController)
        throw ProtocolError(fmt::format("R2T for {}, which has no data to send", describe(*slot)));
    if (slot->in_capsule)
        throw ProtocolError(fmt::format("R2T for {}, whose {} bytes went in-capsule", describe(*slot), slot->length));
    if (r2t.r2tl == 0) throw ProtocolError(fmt::format("R2T with R2TL 0 for {}", describe(*slot)));
    if (r2t.r2to < slot->done_bytes)
        throw ProtocolError(fmt::format("R2T offset {} for {} goes back below the {} bytes already asked for", r2t.r2to,
                                        describe(*slot), slot->done_bytes));
    if (uint64_t(r2t.r2to) + r2t.r2tl > slot->length)
        throw ProtocolError(fmt::format("R2T asks for bytes {}..{} of {}, which has {} bytes", r2t.r2to,
                                        uint64_t(r2t.r2to) + r2t.r2tl, describe(*slot), slot->length));

    const TransportParams& p = params();
    size_t pdus = (r2t.r2tl + p.maxh2cdata - 1) / p.maxh2cdata;
    if (send_.sent_position() >= slot->send_end) slot->h2c_used = 0;
    if (slot->h2c_used + pdus > slot->h2c.size()) {
        // Growing moves the headers: the queued ones must have left first.
        flush_until(slot->send_end);
        slot->h2c_used = 0;
        if (pdus > slot->h2c.size()) slot->h2c.resize(pdus);
    }
    uint32_t offset = r2t.r2to;
    uint32_t end = r2t.r2to + r2t.r2tl;
    while (offset < end) {
        uint32_t length = std::min(end - offset, p.maxh2cdata);
        H2CHeader& h = slot->h2c[slot->h2c_used++];
        pdu::H2CDataFields fields{r2t.cccid, r2t.ttag, offset, length, offset + length == end};
        send_.push(h.header, pdu::build_h2c_data_header(pdu::HeaderArea(h.header), fields, p));
        send_.push(slot->data + offset, length);
        if (p.data_digest) {
            h.digest = proto::crc32c(slot->data + offset, length);
            send_.push(&h.digest, sizeof h.digest);
        }
        offset += length;
    }
    slot->done_bytes = end;
    slot->send_end = send_.queued_position();
}

void Queue::on_c2h_data(const std::byte* header) {
    DataPdu c2h;
    std::memcpy(&c2h, header, sizeof c2h);
    rx_layout_ = pdu::check_c2h_data(c2h, params(), success_flag_allowed_);
    Slot* slot = find(c2h.cccid);
    if (!slot)
        throw ProtocolError(fmt::format("queue {}: C2HData for command id {} which is not outstanding", qid_, c2h.cccid));
    if (slot->direction != DataDirection::ControllerToHost)
        throw ProtocolError(fmt::format("C2HData for {}, which reads no data", describe(*slot)));
    if (c2h.datao != slot->done_bytes)
        throw ProtocolError(fmt::format("C2HData DATAO {} for {}, expected {} (data in order)", c2h.datao,
                                        describe(*slot), slot->done_bytes));
    if (uint64_t(c2h.datao) + c2h.datal > slot->length)
        throw ProtocolError(fmt::format("C2HData bytes {}..{} overrun the {} bytes of {}", c2h.datao,
                                        uint64_t(c2h.datao) + c2h.datal, slot->length, describe(*slot)));
    rx_slot_ = slot;
    rx_dest_ = slot->data + c2h.datao;
    rx_crc_ = proto::kCrc32cInit;
    if (rx_layout_.padding > 0) {
        rx_state_ = RxState::Padding;
        rx_left_ = rx_layout_.padding;
    } else {
        rx_state_ = RxState::Data;
        rx_left_ = rx_layout_.data_length;
    }
}

void Queue::finish_c2h_data() {
    if (rx_state_ == RxState::Data && params().data_digest) {
        rx_state_ = RxState::DataDigest;
        return;
    }
    rx_state_ = RxState::Header;
    Slot& slot = *rx_slot_;
    rx_slot_ = nullptr;
    slot.done_bytes += rx_layout_.data_length;
    if (!rx_layout_.success) return;
    if (slot.done_bytes != slot.length)
        throw ProtocolError(fmt::format("C2HData SUCCESS for {} after only {} of {} bytes", describe(slot),
                                        slot.done_bytes, slot.length));
    Completion c;
    c.cid = slot.cid;
    c.by_success_flag = true;
    complete(slot, c);
}

void wait_for_any(std::span<Queue* const> queues, std::chrono::milliseconds timeout) {
    thread_local std::vector<pollfd> fds;
    fds.clear();
    for (Queue* q : queues) fds.push_back(pollfd{q->fd(), q->wanted_events(), 0});
    int rc = ::poll(fds.data(), fds.size(), static_cast<int>(timeout.count()));
    if (rc < 0 && errno != EINTR) throw ConnectionError(fmt::format("poll: {}", std::strerror(errno)));
}

}  // namespace nvmfd::host
