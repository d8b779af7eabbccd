// The TLS side of the NVMe/TCP transport (TP 8011): TLS 1.3 only, PSK only,
// TLS_AES_128_GCM_SHA256 and TLS_AES_256_GCM_SHA384, through OpenSSL 3.
//
// TlsServer is the transport's one SSL_CTX. TlsStream is one connection's
// TLS state over its non-blocking socket: the handshake runs step by step
// inside the reactor's event loop, then reads and writes carry the
// NVMe/TCP stream (ICReq first). The PSK comes from the core through
// TransportEnv::tls_psk, looked up by the identity the client sends.
// OpenSSL moves the record layer into the kernel (kTLS) where the kernel
// offers it (SSL_OP_ENABLE_KTLS); elsewhere it stays in user space.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>
#include <sys/uio.h>
#include <vector>

#include "core/plugin/transport.hpp"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace nvmfd::plugins::tcp {

// The first byte of a TLS record carrying a handshake (a ClientHello).
inline constexpr uint8_t kTlsHandshakeRecord = 0x16;

class TlsServer {
public:
    TlsServer();
    ~TlsServer();
    TlsServer(const TlsServer&) = delete;
    TlsServer& operator=(const TlsServer&) = delete;
    SSL_CTX* ctx() const { return ctx_; }

private:
    SSL_CTX* ctx_ = nullptr;
};

class TlsStream {
public:
    using PskLookup = std::function<std::optional<plugin::TlsPsk>(std::string_view identity)>;
    enum class Step { Done, WantRead, WantWrite, Failed };

    TlsStream(const TlsServer& server, int fd, PskLookup lookup);
    ~TlsStream();
    TlsStream(const TlsStream&) = delete;
    TlsStream& operator=(const TlsStream&) = delete;

    Step handshake();
    // > 0 bytes read; 0 the peer closed; -1 with errno EAGAIN (nothing yet)
    // or EIO (a TLS error: error() says which).
    ssize_t read(void* buf, size_t len);
    // Takes bytes of the iovecs into the record layer and returns how many
    // (they are then owned here: the caller's buffers may go); -1 with errno
    // EPIPE/EIO on failure. blocked(): bytes taken earlier still wait for
    // the socket (poll for EPOLLOUT, then call write() again, even with none).
    ssize_t write(const iovec* iov, size_t count);
    bool blocked() const { return out_sent_ < out_len_; }
    // Decrypted or raw bytes OpenSSL holds that epoll cannot report.
    bool has_pending() const;
    void shutdown();

    const std::string& identity() const { return identity_; }
    std::string cipher() const;
    // Where the record layer runs, for the log: "kernel TLS" (both
    // directions), "kernel TLS for sending" (OpenSSL 3.0 programs kTLS for
    // TLS 1.3 only on the sending side), or "TLS in user space".
    std::string_view record_layer() const;
    const std::string& error() const { return error_; }

    // OpenSSL's PSK callback lands here (it keeps the identity for Connect).
    // Of the PSKs the core offers, the one the ClientHello's binder proves.
    std::optional<plugin::TlsPsk> on_identity(std::string_view identity);
    // OpenSSL's message callback: keeps the (first) ClientHello for that.
    void on_handshake_message(const uint8_t* msg, size_t len);
    // Non-empty when the host's PSK came from a derivation other than the
    // specification's (an older tool's): which one, for the log.
    const std::string& nonstandard_derivation() const { return nonstandard_; }

private:
    Step failed(int ret, std::string_view what);
    bool drain_out();

    SSL* ssl_ = nullptr;
    PskLookup lookup_;
    std::string identity_;
    std::string error_;
    std::vector<uint8_t> out_;  // taken from write(), not yet accepted by SSL_write
    size_t out_len_ = 0, out_sent_ = 0;
    bool dead_ = false;
    bool psk_refused_ = false;  // the core had no PSK for the identity
    std::vector<uint8_t> client_hello_;
    int client_hellos_ = 0;  // a second one follows a HelloRetryRequest
    std::string nonstandard_;
};

}  // namespace nvmfd::plugins::tcp
