#include "tools/host/socket.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <climits>
#include <cstring>
#include <fcntl.h>
#include <fmt/format.h>
#include <memory>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tools/host/errors.hpp"

namespace nvmfd::host {
namespace {

int poll_timeout_ms(Deadline deadline) {
    auto left = deadline - Clock::now();
    if (left <= Clock::duration::zero()) return 0;
    // Round up so that a wait never ends a hair before its deadline.
    auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
    return static_cast<int>(std::min<long long>(ms, INT_MAX));
}

bool is_reset(int err) { return err == ECONNRESET || err == EPIPE || err == ECONNABORTED || err == ETIMEDOUT; }

std::string strip_brackets(std::string_view address) {
    if (address.size() >= 2 && address.front() == '[' && address.back() == ']')
        return std::string(address.substr(1, address.size() - 2));
    return std::string(address);
}

struct AddrinfoDeleter {
    void operator()(addrinfo* ai) const { freeaddrinfo(ai); }
};

}  // namespace

Socket::~Socket() { close(); }

Socket& Socket::operator=(Socket&& other) noexcept {
    if (this != &other) {
        close();
        tls_ = std::move(other.tls_);
        fd_ = other.release();
    }
    return *this;
}

int Socket::release() noexcept {
    int fd = fd_;
    fd_ = -1;
    return fd;
}

void Socket::close() noexcept {
    tls_.reset();  // its close_notify needs the descriptor
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

void Socket::set_nonblocking() {
    int flags = ::fcntl(fd_, F_GETFL);
    if (flags < 0 || ::fcntl(fd_, F_SETFL, flags | O_NONBLOCK) < 0)
        throw ConnectionError(fmt::format("fcntl(O_NONBLOCK): {}", std::strerror(errno)));
}

void Socket::set_nodelay() {
    int one = 1;
    // Not a TCP socket (e.g. a socketpair in a test) is fine: there is no Nagle to turn off.
    if (::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0 && errno != EOPNOTSUPP && errno != ENOTSUP)
        throw ConnectionError(fmt::format("setsockopt(TCP_NODELAY): {}", std::strerror(errno)));
}

Socket Socket::connect_tcp(std::string_view address, uint16_t port, std::chrono::milliseconds timeout) {
    Deadline deadline = deadline_after(timeout);
    std::string host = strip_brackets(address);
    std::string service = std::to_string(port);
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* raw = nullptr;
    if (int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &raw); rc != 0)
        throw ConnectionError(fmt::format("cannot resolve {}: {}", host, gai_strerror(rc)));
    std::unique_ptr<addrinfo, AddrinfoDeleter> list(raw);

    std::string last_error = "no address";
    for (addrinfo* ai = list.get(); ai; ai = ai->ai_next) {
        Socket s(::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol));
        if (!s.valid()) {
            last_error = std::strerror(errno);
            continue;
        }
        if (::connect(s.fd(), ai->ai_addr, ai->ai_addrlen) < 0) {
            if (errno != EINPROGRESS) {
                last_error = std::strerror(errno);
                continue;
            }
            if (s.wait(POLLOUT, deadline) == 0)
                throw TimeoutError(fmt::format("connect to {}:{} timed out after {} ms", host, port, timeout.count()));
            int err = 0;
            socklen_t len = sizeof err;
            ::getsockopt(s.fd(), SOL_SOCKET, SO_ERROR, &err, &len);
            if (err != 0) {
                last_error = std::strerror(err);
                continue;
            }
        }
        s.set_nodelay();
        return s;
    }
    throw ConnectionError(fmt::format("connect to {}:{} failed: {}", host, port, last_error));
}

void Socket::start_tls(const TlsCredentials& credentials, Deadline deadline) {
    tls_ = std::make_unique<TlsClient>(fd_, credentials);
    for (;;) {
        auto r = tls_->handshake();
        if (r == TlsClient::Result::Ok) return;
        if (r == TlsClient::Result::Failed || r == TlsClient::Result::Closed) {
            std::string why = tls_->error().empty() ? "the target closed the connection" : tls_->error();
            tls_.reset();
            throw ConnectionError(fmt::format("TLS handshake failed: {}", why));
        }
        pollfd p{fd_, short(r == TlsClient::Result::WantRead ? POLLIN : POLLOUT), 0};
        if (::poll(&p, 1, poll_timeout_ms(deadline)) == 0 && Clock::now() >= deadline)
            throw TimeoutError("TLS handshake timed out");
    }
}

IoResult Socket::tls_result(TlsClient::Result r, size_t bytes, const char* what) {
    switch (r) {
    case TlsClient::Result::Ok: return {IoStatus::Ok, bytes, 0};
    case TlsClient::Result::WantRead:
    case TlsClient::Result::WantWrite: return {bytes ? IoStatus::Ok : IoStatus::WouldBlock, bytes, 0};
    case TlsClient::Result::Closed: return {IoStatus::Closed, 0, 0};
    case TlsClient::Result::Failed: break;
    }
    throw ConnectionError(fmt::format("{}: {}", what, tls_->error()));
}

IoResult Socket::send_some(const iovec* iov, size_t count) {
    if (tls_) {
        size_t taken = 0;
        auto r = tls_->write(iov, count, taken);
        return tls_result(r, taken, "TLS send");
    }
    msghdr msg{};
    msg.msg_iov = const_cast<iovec*>(iov);
    msg.msg_iovlen = std::min<size_t>(count, IOV_MAX);
    for (;;) {
        // MSG_NOSIGNAL: a target that hangs up must become an error, not SIGPIPE.
        ssize_t n = ::sendmsg(fd_, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n >= 0) return {IoStatus::Ok, static_cast<size_t>(n), 0};
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return {IoStatus::WouldBlock, 0, 0};
        if (is_reset(errno)) return {IoStatus::Closed, 0, errno};
        throw ConnectionError(fmt::format("send: {}", std::strerror(errno)));
    }
}

IoResult Socket::receive_some(const iovec* iov, size_t count) {
    if (tls_) {
        size_t got = 0;
        auto r = tls_->read(iov, count, got);
        return tls_result(r, got, "TLS receive");
    }
    msghdr msg{};
    msg.msg_iov = const_cast<iovec*>(iov);
    msg.msg_iovlen = std::min<size_t>(count, IOV_MAX);
    for (;;) {
        ssize_t n = ::recvmsg(fd_, &msg, MSG_DONTWAIT);
        if (n > 0) return {IoStatus::Ok, static_cast<size_t>(n), 0};
        if (n == 0) return {IoStatus::Closed, 0, 0};
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return {IoStatus::WouldBlock, 0, 0};
        if (is_reset(errno)) return {IoStatus::Closed, 0, errno};
        throw ConnectionError(fmt::format("receive: {}", std::strerror(errno)));
    }
}

IoResult Socket::receive_some(void* buffer, size_t length) {
    iovec v{buffer, length};
    return receive_some(&v, 1);
}

short Socket::wait(short events, Deadline deadline) const {
    if (tls_) {
        // Records already read ahead are not the socket's to report; bytes
        // taken for sending but not yet on the wire must go out even when
        // the caller only waits for its answer.
        for (;;) {
            if ((events & POLLIN) && tls_->pending()) return POLLIN;
            if (tls_->blocked() && tls_->flush() == TlsClient::Result::Failed)
                throw ConnectionError(fmt::format("TLS send: {}", tls_->error()));
            short want = short(events | (tls_->blocked() ? POLLOUT : 0));
            pollfd p{fd_, want, 0};
            int rc = ::poll(&p, 1, poll_timeout_ms(deadline));
            if (rc < 0 && errno != EINTR) throw ConnectionError(fmt::format("poll: {}", std::strerror(errno)));
            if (rc <= 0) {
                if (Clock::now() >= deadline) return 0;
                continue;
            }
            short seen = short(p.revents & (events | POLLERR | POLLHUP | POLLNVAL));
            if (seen) return seen;
        }
    }
    pollfd p{fd_, events, 0};
    for (;;) {
        int rc = ::poll(&p, 1, poll_timeout_ms(deadline));
        if (rc > 0) return p.revents;
        if (rc == 0) {
            if (Clock::now() >= deadline) return 0;
            continue;
        }
        if (errno != EINTR) throw ConnectionError(fmt::format("poll: {}", std::strerror(errno)));
    }
}

void Socket::send_all(std::span<const std::byte> data, Deadline deadline) {
    size_t done = 0;
    while (done < data.size()) {
        iovec v{const_cast<std::byte*>(data.data() + done), data.size() - done};
        IoResult r = send_some(&v, 1);
        if (r.status == IoStatus::Ok) {
            done += r.bytes;
        } else if (r.status == IoStatus::Closed) {
            throw ConnectionError(fmt::format("peer closed the connection while sending ({})",
                                              r.error ? std::strerror(r.error) : "orderly close"));
        } else if (wait(POLLOUT, deadline) == 0) {
            throw TimeoutError(fmt::format("send of {} bytes timed out after {} bytes", data.size(), done));
        }
    }
}

void Socket::receive_exact(std::span<std::byte> data, Deadline deadline) {
    size_t done = 0;
    while (done < data.size()) {
        IoResult r = receive_some(data.data() + done, data.size() - done);
        if (r.status == IoStatus::Ok) {
            done += r.bytes;
        } else if (r.status == IoStatus::Closed) {
            throw ConnectionError(fmt::format("peer closed the connection after {} of {} expected bytes ({})", done,
                                              data.size(), r.error ? std::strerror(r.error) : "orderly close"));
        } else if (wait(POLLIN, deadline) == 0) {
            throw TimeoutError(fmt::format("timed out waiting for data: {} of {} bytes received", done, data.size()));
        }
    }
}

std::string Socket::peer_name() const {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (::getpeername(fd_, reinterpret_cast<sockaddr*>(&ss), &len) < 0) return "?";
    char host[INET6_ADDRSTRLEN] = "?";
    uint16_t port = 0;
    if (ss.ss_family == AF_INET) {
        auto* in = reinterpret_cast<sockaddr_in*>(&ss);
        ::inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        port = ntohs(in->sin_port);
        return fmt::format("{}:{}", host, port);
    }
    if (ss.ss_family == AF_INET6) {
        auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
        ::inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        port = ntohs(in6->sin6_port);
        return fmt::format("[{}]:{}", host, port);
    }
    return "local";
}

}  // namespace nvmfd::host
