// A non-blocking TCP socket with deadline-bounded waits. Every blocking
// operation of the host library goes through wait() so that nothing can hang.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <sys/uio.h>

#include "tools/host/tls_client.hpp"

namespace nvmfd::host {

using Clock = std::chrono::steady_clock;
using Deadline = Clock::time_point;

inline Deadline deadline_after(std::chrono::milliseconds timeout) { return Clock::now() + timeout; }

enum class IoStatus : uint8_t { Ok, WouldBlock, Closed };

struct IoResult {
    IoStatus status = IoStatus::Ok;
    size_t bytes = 0;
    int error = 0;  // errno when Closed by a reset, 0 for an orderly close
};

class Socket {
public:
    Socket() = default;
    explicit Socket(int fd) noexcept : fd_(fd) {}
    ~Socket();
    Socket(Socket&& other) noexcept : fd_(other.fd_), tls_(std::move(other.tls_)) { other.fd_ = -1; }
    Socket& operator=(Socket&& other) noexcept;
    Socket(const Socket&) = delete;
    Socket& operator=(const Socket&) = delete;

    // Numeric IPv4/IPv6 (brackets allowed) or a host name; throws
    // ConnectionError or TimeoutError.
    static Socket connect_tcp(std::string_view address, uint16_t port, std::chrono::milliseconds timeout);

    int fd() const { return fd_; }
    bool valid() const { return fd_ >= 0; }
    int release() noexcept;
    void close() noexcept;

    void set_nonblocking();
    void set_nodelay();
    // TLS 1.3 with a PSK from here on (before ICReq); throws ConnectionError
    // when the handshake fails (a wrong PSK) or TimeoutError.
    void start_tls(const TlsCredentials& credentials, Deadline deadline);
    bool tls() const { return tls_ != nullptr; }
    std::string tls_cipher() const { return tls_ ? tls_->cipher() : ""; }

    IoResult send_some(const iovec* iov, size_t count);
    IoResult receive_some(const iovec* iov, size_t count);
    IoResult receive_some(void* buffer, size_t length);

    // Waits for POLLIN/POLLOUT; returns the revents seen, 0 on timeout.
    short wait(short events, Deadline deadline) const;

    // Whole-buffer forms for the handshake and raw tests; they throw
    // TimeoutError or ConnectionError.
    void send_all(std::span<const std::byte> data, Deadline deadline);
    void receive_exact(std::span<std::byte> data, Deadline deadline);

    std::string peer_name() const;

private:
    IoResult tls_result(TlsClient::Result r, size_t bytes, const char* what);

    int fd_ = -1;
    std::unique_ptr<TlsClient> tls_;
};

}  // namespace nvmfd::host
