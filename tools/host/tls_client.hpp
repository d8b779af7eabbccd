// TLS 1.3 with a PSK on the host side (NVMe/TCP TP 8011), for tests and
// nvmf-perf: the handshake over a connected non-blocking socket, then
// records in both directions. The caller brings the PSK identity and the
// derived TLS PSK (core/auth/tls_psk computes them from an interchange key).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <sys/uio.h>
#include <vector>

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;

namespace nvmfd::host {

struct TlsCredentials {
    std::string identity;       // e.g. "NVMe1R01 <hostnqn> <subnqn> <digest>"
    std::vector<uint8_t> psk;   // the TLS PSK (32 bytes: SHA-256, 48: SHA-384)
    // Cipher suites to offer; empty: the one that matches the PSK's hash.
    std::string ciphersuites;
};

// The identity and TLS PSK a host presents on `subnqn` for its configured
// key (NVMeTLSkey-1 interchange text); throws std::invalid_argument for a
// key that does not parse.
std::shared_ptr<const TlsCredentials> tls_credentials(std::string_view key_text, std::string_view hostnqn,
                                                      std::string_view subnqn, int version = 1);

class TlsClient {
public:
    enum class Result { Ok, WantRead, WantWrite, Closed, Failed };

    TlsClient(int fd, const TlsCredentials& credentials);
    ~TlsClient();
    TlsClient(const TlsClient&) = delete;
    TlsClient& operator=(const TlsClient&) = delete;

    Result handshake();
    // Bytes of the iovecs taken into records (kept here until the socket
    // takes them: flush()/blocked()).
    Result write(const iovec* iov, size_t count, size_t& taken);
    Result flush();
    bool blocked() const { return out_sent_ < out_len_; }
    Result read(const iovec* iov, size_t count, size_t& got);
    bool pending() const;
    std::string cipher() const;
    const std::string& error() const { return error_; }

private:
    Result failed(int ret, const char* what);

    SSL_CTX* ctx_ = nullptr;
    SSL* ssl_ = nullptr;
    TlsCredentials cred_;
    std::string error_;
    std::vector<uint8_t> out_;
    size_t out_len_ = 0, out_sent_ = 0;
};

}  // namespace nvmfd::host
