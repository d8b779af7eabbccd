#include "tools/attack/attack_target.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "tools/host/errors.hpp"

namespace nvmfd::attack {
namespace {

sockaddr_storage numeric_address(const std::string& text, uint16_t port) {
    sockaddr_storage ss{};
    auto* in = reinterpret_cast<sockaddr_in*>(&ss);
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&ss);
    if (::inet_pton(AF_INET, text.c_str(), &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
        in->sin_port = htons(port);
    } else if (::inet_pton(AF_INET6, text.c_str(), &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
    } else {
        throw host::ConnectionError(fmt::format("'{}' is not a numeric IPv4 or IPv6 address", text));
    }
    return ss;
}

socklen_t length_of(const sockaddr_storage& ss) {
    return ss.ss_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
}

}  // namespace

host::Socket connect_from(const AttackTarget& target, std::chrono::milliseconds timeout) {
    sockaddr_storage to = numeric_address(target.address, target.port);
    host::Socket s(::socket(to.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!s.valid()) throw host::ConnectionError(fmt::format("socket: {}", std::strerror(errno)));
    if (!target.source.empty()) {
        sockaddr_storage from = numeric_address(target.source, 0);
        if (::bind(s.fd(), reinterpret_cast<sockaddr*>(&from), length_of(from)) != 0)
            throw host::ConnectionError(fmt::format("bind to {}: {}", target.source, std::strerror(errno)));
    }
    if (::connect(s.fd(), reinterpret_cast<sockaddr*>(&to), length_of(to)) != 0) {
        if (errno != EINPROGRESS)
            throw host::ConnectionError(fmt::format("connect to {}:{}: {}", target.address, target.port,
                                                    std::strerror(errno)));
        if (s.wait(POLLOUT, host::deadline_after(timeout)) == 0)
            throw host::TimeoutError(fmt::format("connect to {}:{} timed out", target.address, target.port));
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(s.fd(), SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0)
            throw host::ConnectionError(fmt::format("connect to {}:{}: {}", target.address, target.port,
                                                    std::strerror(err)));
    }
    s.set_nodelay();
    return s;
}

void close_with_reset(host::Socket& socket) {
    if (!socket.valid()) return;
    linger reset{1, 0};
    ::setsockopt(socket.fd(), SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    socket.close();
}

bool peer_closed(const host::Socket& socket) {
    pollfd p{socket.fd(), POLLIN | POLLRDHUP, 0};
    if (::poll(&p, 1, 0) <= 0) return false;
    if (p.revents & (POLLERR | POLLHUP | POLLRDHUP)) return true;
    // Readable: data (an ICResp, a response) or EOF; only EOF means closed.
    char byte;
    ssize_t n = ::recv(socket.fd(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

size_t closed_sockets(std::vector<host::Socket>& sockets) {
    std::vector<pollfd> fds;
    fds.reserve(sockets.size());
    for (auto& s : sockets) fds.push_back({s.fd(), POLLRDHUP, 0});
    if (fds.empty() || ::poll(fds.data(), fds.size(), 0) <= 0) return 0;
    size_t kept = 0, gone = 0;
    for (size_t i = 0; i < sockets.size(); ++i) {
        if (fds[i].revents & (POLLERR | POLLHUP | POLLRDHUP)) {
            sockets[i].close();
            ++gone;
        } else {
            if (kept != i) sockets[kept] = std::move(sockets[i]);
            ++kept;
        }
    }
    sockets.resize(kept);
    return gone;
}

uint64_t raise_open_file_limit() {
    rlimit limit{};
    ::getrlimit(RLIMIT_NOFILE, &limit);
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
    ::getrlimit(RLIMIT_NOFILE, &limit);
    return limit.rlim_cur;
}

}  // namespace nvmfd::attack
