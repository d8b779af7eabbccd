// The send side of an NVMe/TCP connection: responses (C2HData, CapsuleResp), R2T,
// termination requests, and the batched sendmsg() flush.
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

// ---------------------------------------------------------------- send

bool TcpConnection::enqueue(TxItem& item) {
    if (!tx_.push(item)) {
        // Queued twice would make the send list loop on itself.
        internal_error("a PDU was queued for sending while already queued");
        return false;
    }
    if (!want_write_) reactor_.defer(*this);
    return true;
}

void TcpConnection::send_r2t(TcpRequest& r) {
    if (!move_slot(r, SlotState::R2TQueued)) return;
    R2T pdu{};
    pdu.ch.type = PduType::R2T;
    pdu.ch.flags = hdgst_ ? flags::kHeaderDigest : 0;
    pdu.ch.hlen = sizeof pdu;
    pdu.ch.plen = sizeof pdu + (hdgst_ ? kDigestSize : 0);
    pdu.cccid = r.sqe.cid;
    pdu.ttag = r.ttag;
    pdu.r2to = 0;
    pdu.r2tl = r.transfer_length;
    r.hdr_len = put_header(r.hdr, pdu, hdgst_);
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
        release_slot(r);
        finish_close_if_drained();
        return;
    }
    if (!move_slot(r, SlotState::Sending)) return;
    settle_hold(r);
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
        r.hdr_len = put_header(r.hdr, pdu, hdgst_);
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
        r.resp_len = put_header(r.resp, resp, hdgst_);
    }
    r.tx_kind = TxKind::Response;
    r.tx_total = size_t(r.hdr_len) + r.pad_len + r.data_len + (r.send_ddgst ? kDigestSize : 0) + r.resp_len;
    enqueue(r);
}

void TcpConnection::on_request_sent(TcpRequest& r) {
    // After its R2T is on the wire, a slot accepts H2CData; after its response, it is free.
    if (r.tx_kind == TxKind::R2T) move_slot(r, SlotState::AwaitingH2CData);
    else release_slot(r);
}

void TcpConnection::flush() {
    if (tls_) {
        flush_tls();
        return;
    }
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
            // The peer is gone: nothing more can be sent; finish_close()
            // releases the slots whose PDUs are dropped here.
            int err = errno;
            tx_.clear();
            if (!closing_) close(fmt::format("send error: {}", std::strerror(err)));
            return;
        }
        account_sent(size_t(n));
        if (size_t(n) < e.bytes) {
            set_want_write(true);
            admit_waiting();
            return;
        }
    }
    set_want_write(false);
    // Sent responses gave their pages back: commands waiting for budget may start.
    admit_waiting();
}

void TcpConnection::account_sent(size_t sent) {
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
}

void TcpConnection::set_want_write(bool on) {
    if (on == want_write_ || dead_) return;
    want_write_ = on;
    reactor_.modify_fd(fd_, epoll_events(), *this);
}

}  // namespace nvmfd::plugins::tcp
