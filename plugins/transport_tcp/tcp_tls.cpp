// The secure channel of an NVMe/TCP connection (TP 8011): telling a TLS
// ClientHello from a plaintext ICReq, the non-blocking handshake inside
// the reactor loop, and the TLS read and write paths. Everything above
// (PDU parsing, slots, flow control) is the same with or without TLS.
#include <cerrno>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "core/runtime/log.hpp"
#include "plugins/transport_tcp/tcp_connection.hpp"
#include "plugins/transport_tcp/tcp_helpers.hpp"
#include "plugins/transport_tcp/tcp_transport.hpp"

namespace nvmfd::plugins::tcp {

using namespace detail;

std::string_view TcpConnection::tls_identity() const { return tls_ ? std::string_view(tls_->identity()) : ""; }

void TcpConnection::advance_link(uint32_t events) {
    if (closing_) return;
    if (link_ == Link::Detecting) {
        // The first byte decides: 0x16 starts a TLS handshake record; an
        // ICReq starts with PDU type 0.
        uint8_t first = 0;
        ssize_t n = ::recv(fd_, &first, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            close("host closed the connection before its first byte");
            return;
        }
        if (n < 0) {
            if (events & (EPOLLHUP | EPOLLERR)) close("host closed the connection before its first byte");
            return;
        }
        if (first != kTlsHandshakeRecord) {
            if (secure_ == plugin::SecureChannel::Required) {
                log::notice("tcp: {}: port {} requires TLS (secure channel required): plaintext connection refused",
                            peer_, port_id_);
                close("plaintext connection on a port that requires TLS");
                return;
            }
            link_ = Link::Ready;
            on_readable();
            return;
        }
        auto& env = transport_.env();
        auto& reactor = reactor_;
        uint16_t port = port_id_;
        tls_ = std::make_unique<TlsStream>(transport_.tls(), fd_, [&env, &reactor, port](std::string_view identity) {
            return env.tls_psk(reactor, port, identity);
        });
        link_ = Link::Handshaking;
    }
    handshake_step();
}

void TcpConnection::handshake_step() {
    switch (tls_->handshake()) {
    case TlsStream::Step::WantRead:
        set_want_write(false);
        return;
    case TlsStream::Step::WantWrite:
        set_want_write(true);
        return;
    case TlsStream::Step::Failed:
        // A wrong or unknown PSK ends here; the core logged why it had none.
        log::notice("tcp: {}: TLS handshake on port {} failed{}{}: {}", peer_, port_id_,
                    tls_->identity().empty() ? "" : " for PSK identity ", tls_->identity(), tls_->error());
        close("TLS handshake failed");
        return;
    case TlsStream::Step::Done:
        break;
    }
    link_ = Link::Ready;
    set_want_write(false);
    log::info("tcp: {}: TLS 1.3 on port {} with {} ({}), PSK identity '{}'", peer_, port_id_, tls_->cipher(),
              tls_->record_layer(), tls_->identity());
    if (!tls_->nonstandard_derivation().empty())
        log::notice("tcp: {}: the TLS PSK of identity '{}' on port {} was derived with {}: accepted; insert the "
                    "host's key with nvme-cli 2.11 or later (without --compat) to follow RFC 8446",
                    peer_, tls_->identity(), port_id_, tls_->nonstandard_derivation());
    on_readable();  // the ICReq may have come with the handshake's last flight
}

ssize_t TcpConnection::tls_read_some(size_t cap) {
    ssize_t n;
    if (in_payload_ && pl_.req && rx_head_ == rx_tail_ && pl_.pad == 0 && pl_.remaining >= kDirectReadThreshold) {
        // Decrypt straight into the command's pages.
        uint8_t* dst = nullptr;
        size_t room = 0;
        for_each_piece(pl_.req->data(), pl_.offset, pl_.remaining, [&](uint8_t* p, size_t k) {
            dst = p;
            room = k;
            return false;
        });
        n = tls_->read(dst, room);
        if (n > 0) payload_received(size_t(n));
    } else {
        if (rx_tail_ == cap) {
            std::memmove(rx_.get(), rx_.get() + rx_head_, rx_tail_ - rx_head_);
            rx_tail_ -= rx_head_;
            rx_head_ = 0;
        }
        n = tls_->read(rx_.get() + rx_tail_, cap - rx_tail_);
        if (n > 0) rx_tail_ += size_t(n);
    }
    if (n < 0 && errno == EIO) {
        close(fmt::format("TLS error: {}", tls_->error()));
        errno = EAGAIN;  // closed already: read_some() only stops
    }
    return n;
}

void TcpConnection::flush_tls() {
    for (;;) {
        iovec iov[IOV_MAX];
        IovEmitter e{iov, IOV_MAX};
        for (TxItem* item = tx_.head(); item && !e.full; item = item->tx_next) {
            e.skip = item->tx_sent;
            item->emit(e);
        }
        ssize_t n = tls_->write(iov, e.count);
        if (n < 0) {
            tx_.clear();
            if (!closing_) close(fmt::format("TLS send error: {}", tls_->error()));
            return;
        }
        // Taken bytes are copied into records: their buffers may go now.
        account_sent(size_t(n));
        if (tls_->blocked()) {
            set_want_write(true);
            admit_waiting();
            return;
        }
        if (tx_.empty()) break;
    }
    set_want_write(false);
    admit_waiting();
}

}  // namespace nvmfd::plugins::tcp
