#include "plugins/transport_tcp/tls_server.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "core/runtime/log.hpp"
#include "plugins/transport_tcp/tls_binder.hpp"

namespace nvmfd::plugins::tcp {
namespace {

// Responses gather into records of up to this much per SSL_write.
constexpr size_t kStaging = 64 * 1024;

int find_session(SSL* ssl, const unsigned char* identity, size_t len, SSL_SESSION** sess) {
    *sess = nullptr;
    auto* stream = static_cast<TlsStream*>(SSL_get_app_data(ssl));
    auto psk = stream->on_identity(std::string_view(reinterpret_cast<const char*>(identity), len));
    // Returning 1 with no session makes the handshake fail as "unknown PSK".
    if (!psk) return 1;
    static const unsigned char kAes128[] = {0x13, 0x01}, kAes256[] = {0x13, 0x02};
    const SSL_CIPHER* cipher = SSL_CIPHER_find(ssl, psk->sha384 ? kAes256 : kAes128);
    SSL_SESSION* s = SSL_SESSION_new();
    if (!cipher || !s || !SSL_SESSION_set1_master_key(s, psk->key.data(), psk->key.size()) ||
        !SSL_SESSION_set_cipher(s, cipher) || !SSL_SESSION_set_protocol_version(s, TLS1_3_VERSION)) {
        SSL_SESSION_free(s);
        return 0;
    }
    *sess = s;
    return 1;
}

void on_message(int write_p, int, int content_type, const void* buf, size_t len, SSL* ssl, void*) {
    if (write_p || content_type != SSL3_RT_HANDSHAKE || len < 4) return;
    if (auto* stream = static_cast<TlsStream*>(SSL_get_app_data(ssl)))
        stream->on_handshake_message(static_cast<const uint8_t*>(buf), len);
}

std::string openssl_errors() {
    std::string out;
    while (unsigned long e = ERR_get_error()) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        if (!out.empty()) out += "; ";
        out += buf;
    }
    return out;
}

}  // namespace

TlsServer::TlsServer() {
    ctx_ = SSL_CTX_new(TLS_server_method());
    if (!ctx_) return;
    SSL_CTX_set_min_proto_version(ctx_, TLS1_3_VERSION);
    SSL_CTX_set_max_proto_version(ctx_, TLS1_3_VERSION);
    SSL_CTX_set_ciphersuites(ctx_, "TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256");
    SSL_CTX_set_psk_find_session_callback(ctx_, find_session);
    // No session tickets (PSK resumption is not part of NVMe/TCP), no early
    // data; the record layer goes to the kernel where it can.
    SSL_CTX_set_num_tickets(ctx_, 0);
    // A host that closes without close_notify is a closed connection (the
    // PDU framing, not TLS, tells a truncated stream).
    SSL_CTX_set_options(ctx_, SSL_OP_NO_TICKET | SSL_OP_ENABLE_KTLS | SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_mode(ctx_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    // Read ahead: one read() brings several records, not a header then a body.
    SSL_CTX_set_read_ahead(ctx_, 1);
    SSL_CTX_set_default_read_buffer_len(ctx_, 64 * 1024);
}

TlsServer::~TlsServer() { SSL_CTX_free(ctx_); }

TlsStream::TlsStream(const TlsServer& server, int fd, PskLookup lookup) : lookup_(std::move(lookup)) {
    if (server.ctx()) ssl_ = SSL_new(server.ctx());
    if (ssl_) {
        SSL_set_app_data(ssl_, this);
        SSL_set_msg_callback(ssl_, on_message);
        SSL_set_fd(ssl_, fd);
        SSL_set_accept_state(ssl_);
    }
}

TlsStream::~TlsStream() {
    SSL_free(ssl_);
    if (!out_.empty()) std::fill(out_.begin(), out_.end(), 0);
}

void TlsStream::on_handshake_message(const uint8_t* msg, size_t len) {
    if (msg[0] != SSL3_MT_CLIENT_HELLO) return;
    ++client_hellos_;
    client_hello_.assign(msg, msg + len);
}

std::optional<plugin::TlsPsk> TlsStream::on_identity(std::string_view identity) {
    identity_ = std::string(identity);
    auto psk = lookup_(identity);
    psk_refused_ = !psk;
    if (!psk) return psk;
    // Several candidates (older tools' derivations): the binder of the one
    // ClientHello tells which the host has. After a HelloRetryRequest the
    // binder covers more than this ClientHello: keep the first candidate.
    if (!psk->alternatives.empty() && client_hellos_ == 1) {
        auto binder = find_psk_binder(client_hello_, identity);
        if (binder && !binder_matches(psk->key, psk->sha384, *binder)) {
            for (auto& alt : psk->alternatives) {
                if (!binder_matches(alt.key, psk->sha384, *binder)) continue;
                std::swap(psk->key, alt.key);
                psk->derivation = alt.derivation;
                psk->standard = false;
                break;
            }
        }
    }
    if (!psk->standard) nonstandard_ = psk->derivation;
    return psk;
}

TlsStream::Step TlsStream::failed(int ret, std::string_view what) {
    int err = SSL_get_error(ssl_, ret);
    if (err == SSL_ERROR_WANT_READ) return Step::WantRead;
    if (err == SSL_ERROR_WANT_WRITE) return Step::WantWrite;
    dead_ = true;
    std::string detail = openssl_errors();
    if (err == SSL_ERROR_SYSCALL && detail.empty()) detail = errno ? std::strerror(errno) : "the peer closed the connection";
    if (err == SSL_ERROR_ZERO_RETURN) detail = "the peer closed the TLS session";
    error_ = fmt::format("{}: {}", what, detail.empty() ? "TLS error" : detail);
    return Step::Failed;
}

TlsStream::Step TlsStream::handshake() {
    if (!ssl_) {
        error_ = "OpenSSL could not create the TLS session";
        return Step::Failed;
    }
    ERR_clear_error();
    int r = SSL_do_handshake(ssl_);
    if (r == 1) {
        // The ClientHello served its purpose; the callback would otherwise
        // run for every record of the data path.
        SSL_set_msg_callback(ssl_, nullptr);
        std::vector<uint8_t>().swap(client_hello_);
        return Step::Done;
    }
    Step s = failed(r, "TLS handshake");
    // Without a PSK OpenSSL falls back to certificates, which a PSK-only
    // server has none of: say what really happened.
    if (s == Step::Failed && psk_refused_) error_ = "no PSK for this identity";
    else if (s == Step::Failed && identity_.empty()) error_ += " (the client offered no PSK)";
    return s;
}

ssize_t TlsStream::read(void* buf, size_t len) {
    if (dead_) {
        errno = EIO;
        return -1;
    }
    ERR_clear_error();
    size_t got = 0;
    if (SSL_read_ex(ssl_, buf, len, &got) == 1) return ssize_t(got);
    int err = SSL_get_error(ssl_, 0);
    if (err == SSL_ERROR_ZERO_RETURN) return 0;
    Step s = failed(0, "TLS receive");
    if (s == Step::Failed && err == SSL_ERROR_SYSCALL && errno == 0) return 0;  // closed without close_notify
    errno = s == Step::Failed ? EIO : EAGAIN;
    return -1;
}

bool TlsStream::drain_out() {
    while (out_sent_ < out_len_) {
        ERR_clear_error();
        size_t n = 0;
        if (SSL_write_ex(ssl_, out_.data() + out_sent_, out_len_ - out_sent_, &n) == 1) {
            out_sent_ += n;
            continue;
        }
        if (failed(0, "TLS send") == Step::Failed) return false;
        return true;  // blocked: the same bytes are offered again later
    }
    out_len_ = out_sent_ = 0;
    return true;
}

ssize_t TlsStream::write(const iovec* iov, size_t count) {
    if (dead_ || !drain_out()) {
        errno = EIO;
        return -1;
    }
    if (blocked()) return 0;
    if (out_.size() < kStaging) out_.resize(kStaging);
    // Small PDUs (24-byte responses, headers) share records instead of
    // costing a record and a system call each.
    size_t taken = 0;
    for (size_t i = 0; i < count && out_len_ < kStaging; ++i) {
        size_t k = std::min(iov[i].iov_len, kStaging - out_len_);
        std::memcpy(out_.data() + out_len_, iov[i].iov_base, k);
        out_len_ += k;
        taken += k;
    }
    if (!drain_out()) {
        errno = EIO;
        return -1;
    }
    return ssize_t(taken);
}

bool TlsStream::has_pending() const { return ssl_ && !dead_ && SSL_has_pending(ssl_); }

void TlsStream::shutdown() {
    if (ssl_ && !dead_) {
        ERR_clear_error();
        SSL_shutdown(ssl_);  // best effort close_notify; the socket closes next
    }
}

std::string TlsStream::cipher() const {
    const char* c = ssl_ ? SSL_get_cipher_name(ssl_) : nullptr;
    return c ? c : "";
}

std::string_view TlsStream::record_layer() const {
    bool send = ssl_ && BIO_get_ktls_send(SSL_get_wbio(ssl_));
    bool recv = ssl_ && BIO_get_ktls_recv(SSL_get_rbio(ssl_));
    if (send && recv) return "kernel TLS";
    if (send) return "kernel TLS for sending, receiving in user space";
    if (recv) return "kernel TLS for receiving, sending in user space";
    return "TLS in user space";
}

}  // namespace nvmfd::plugins::tcp
