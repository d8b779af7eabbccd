#include "tools/host/tls_client.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <stdexcept>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "core/auth/tls_psk.hpp"

namespace nvmfd::host {
namespace {

constexpr size_t kStaging = 64 * 1024;

bool is_sha384(const TlsCredentials& c) { return c.psk.size() == 48; }

int use_session(SSL* ssl, const EVP_MD* md, const unsigned char** id, size_t* idlen, SSL_SESSION** sess) {
    auto* cred = static_cast<const TlsCredentials*>(SSL_get_app_data(ssl));
    static const unsigned char kAes128[] = {0x13, 0x01}, kAes256[] = {0x13, 0x02};
    const SSL_CIPHER* cipher = SSL_CIPHER_find(ssl, is_sha384(*cred) ? kAes256 : kAes128);
    // After a HelloRetryRequest OpenSSL asks again with the chosen hash: a
    // PSK of another hash cannot be offered then.
    if (!cipher || (md && md != SSL_CIPHER_get_handshake_digest(cipher))) {
        *sess = nullptr;
        *id = nullptr;
        *idlen = 0;
        return 1;
    }
    SSL_SESSION* s = SSL_SESSION_new();
    if (!s || !SSL_SESSION_set1_master_key(s, cred->psk.data(), cred->psk.size()) ||
        !SSL_SESSION_set_cipher(s, cipher) || !SSL_SESSION_set_protocol_version(s, TLS1_3_VERSION)) {
        SSL_SESSION_free(s);
        return 0;
    }
    *sess = s;
    *id = reinterpret_cast<const unsigned char*>(cred->identity.data());
    *idlen = cred->identity.size();
    return 1;
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

std::shared_ptr<const TlsCredentials> tls_credentials(std::string_view key_text, std::string_view hostnqn,
                                                      std::string_view subnqn, int version) {
    auto cred = auth::host_tls_credentials(key_text, hostnqn, subnqn, version);
    if (!cred) throw std::invalid_argument(cred.error().message);
    auto out = std::make_shared<TlsCredentials>();
    out->identity = cred->identity;
    out->psk.assign(cred->psk.bytes().begin(), cred->psk.bytes().end());
    return out;
}

TlsClient::TlsClient(int fd, const TlsCredentials& credentials) : cred_(credentials) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    if (!ctx_) return;
    SSL_CTX_set_min_proto_version(ctx_, TLS1_3_VERSION);
    SSL_CTX_set_max_proto_version(ctx_, TLS1_3_VERSION);
    std::string suites = cred_.ciphersuites;
    if (suites.empty()) suites = is_sha384(cred_) ? "TLS_AES_256_GCM_SHA384" : "TLS_AES_128_GCM_SHA256";
    SSL_CTX_set_ciphersuites(ctx_, suites.c_str());
    SSL_CTX_set_psk_use_session_callback(ctx_, use_session);
    SSL_CTX_set_mode(ctx_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_read_ahead(ctx_, 1);
    ssl_ = SSL_new(ctx_);
    if (!ssl_) return;
    SSL_set_app_data(ssl_, &cred_);
    SSL_set_fd(ssl_, fd);
    SSL_set_connect_state(ssl_);
}

TlsClient::~TlsClient() {
    if (ssl_) SSL_shutdown(ssl_);
    SSL_free(ssl_);
    SSL_CTX_free(ctx_);
    std::fill(cred_.psk.begin(), cred_.psk.end(), 0);
}

TlsClient::Result TlsClient::failed(int ret, const char* what) {
    int err = SSL_get_error(ssl_, ret);
    if (err == SSL_ERROR_WANT_READ) return Result::WantRead;
    if (err == SSL_ERROR_WANT_WRITE) return Result::WantWrite;
    if (err == SSL_ERROR_ZERO_RETURN) return Result::Closed;
    std::string detail = openssl_errors();
    if (err == SSL_ERROR_SYSCALL && detail.empty()) {
        if (errno == 0) return Result::Closed;
        detail = std::strerror(errno);
    }
    error_ = fmt::format("{}: {}", what, detail.empty() ? "TLS error" : detail);
    return Result::Failed;
}

TlsClient::Result TlsClient::handshake() {
    if (!ssl_) {
        error_ = "OpenSSL could not set up TLS";
        return Result::Failed;
    }
    ERR_clear_error();
    errno = 0;
    int r = SSL_do_handshake(ssl_);
    if (r == 1) return Result::Ok;
    Result res = failed(r, "TLS handshake");
    if (res == Result::Closed) error_ = "TLS handshake: the target closed the connection";
    return res;
}

TlsClient::Result TlsClient::flush() {
    while (out_sent_ < out_len_) {
        ERR_clear_error();
        errno = 0;
        size_t n = 0;
        if (SSL_write_ex(ssl_, out_.data() + out_sent_, out_len_ - out_sent_, &n) != 1)
            return failed(0, "TLS send");
        out_sent_ += n;
    }
    out_len_ = out_sent_ = 0;
    return Result::Ok;
}

TlsClient::Result TlsClient::write(const iovec* iov, size_t count, size_t& taken) {
    taken = 0;
    Result r = flush();
    if (r != Result::Ok) return r;
    if (out_.size() < kStaging) out_.resize(kStaging);
    for (size_t i = 0; i < count && out_len_ < kStaging; ++i) {
        size_t k = std::min(iov[i].iov_len, kStaging - out_len_);
        std::memcpy(out_.data() + out_len_, iov[i].iov_base, k);
        out_len_ += k;
        taken += k;
    }
    r = flush();
    return r == Result::WantRead || r == Result::WantWrite ? Result::Ok : r;
}

TlsClient::Result TlsClient::read(const iovec* iov, size_t count, size_t& got) {
    got = 0;
    for (size_t i = 0; i < count; ++i) {
        size_t off = 0;
        while (off < iov[i].iov_len) {
            ERR_clear_error();
            errno = 0;
            size_t n = 0;
            if (SSL_read_ex(ssl_, static_cast<uint8_t*>(iov[i].iov_base) + off, iov[i].iov_len - off, &n) != 1) {
                Result r = failed(0, "TLS receive");
                return got && (r == Result::WantRead || r == Result::WantWrite) ? Result::Ok : r;
            }
            off += n;
            got += n;
            if (!SSL_has_pending(ssl_) && off < iov[i].iov_len) return Result::Ok;
        }
    }
    return Result::Ok;
}

bool TlsClient::pending() const { return ssl_ && SSL_has_pending(ssl_); }

std::string TlsClient::cipher() const {
    const char* c = ssl_ ? SSL_get_cipher_name(ssl_) : nullptr;
    return c ? c : "";
}

}  // namespace nvmfd::host
