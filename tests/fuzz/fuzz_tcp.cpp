// libFuzzer target: the NVMe/TCP receive path and connection state machine
// (plugins/transport_tcp) with bytes from a host. The input is the byte
// stream a host sends on one connection; it reaches the transport's real
// code through a socketpair adopted by a TcpTransport on the fuzz model's
// reactor, exactly as an accepted socket is, and whatever the target
// answers is read and dropped. The connection must end (the harness shuts
// its side down after the last byte) within a bound, or it is a hang.
//
// I/O queues (writes through R2T and H2CData, reads through C2HData) need a
// controller: the harness keeps one admin association open for the whole
// run (controller ID 1, the first the subsystem hands out, enabled, no
// keep-alive), so an input may Connect an I/O queue to controller 1.
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "plugins/transport_tcp/tcp_transport.hpp"
#include "tests/fuzz/fuzz_model.hpp"
#include "tests/fuzz/host_session.hpp"

using namespace nvmfd;

namespace {

constexpr auto kConnectionEndBound = std::chrono::seconds(10);

plugins::tcp::TcpTransport& transport() {
    // Leaked like the model it serves: alive until exit.
    static auto* t = new plugins::tcp::TcpTransport(fuzz::FuzzModel::get().target(), plugins::tcp::TcpOptions{});
    return *t;
}

int open_connection() {
    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) std::abort();
    auto& model = fuzz::FuzzModel::get();
    model.reactor().adjust_load(+1);  // as the listener does; the connection takes it back
    model.run([&] { transport().adopt(model.reactor(), fds[0], fuzz::kPortId, "fuzz"); });
    return fds[1];
}

// The admin association the inputs' I/O queues join: opened before the
// first input, and again should an input ever end it.
void keep_admin_association() {
    static int fd = -1;
    if (fd >= 0) {
        pollfd p{fd, POLLIN, 0};
        char c;
        if (::poll(&p, 1, 0) == 0 || ::recv(fd, &c, 1, MSG_DONTWAIT | MSG_PEEK) > 0) return;
        std::fprintf(stderr, "fuzz_tcp: the admin association ended; opening another\n");
        ::close(fd);
    }
    fd = open_connection();
    auto bytes = fuzz::admin_session_bytes();
    if (::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) != ssize_t(bytes.size())) std::abort();
    // ICResp, then the Connect and Property Set responses.
    size_t want = fuzz::admin_session_reply_size(), got = 0;
    char buf[512];
    while (got < want) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 5000) <= 0) std::abort();
        ssize_t n = ::recv(fd, buf, std::min(sizeof buf, want - got), MSG_DONTWAIT);
        if (n <= 0) std::abort();
        got += size_t(n);
    }
}

// Write all of `data` to fd while draining what comes back, then half-close
// and read until the target closes its end. False if that takes too long.
bool talk(int fd, const uint8_t* data, size_t size) {
    auto deadline = std::chrono::steady_clock::now() + kConnectionEndBound;
    size_t sent = 0;
    bool half_closed = false;
    char sink[65536];
    while (std::chrono::steady_clock::now() < deadline) {
        if (sent == size && !half_closed) {
            ::shutdown(fd, SHUT_WR);
            half_closed = true;
        }
        pollfd p{fd, short(POLLIN | (half_closed ? 0 : POLLOUT)), 0};
        if (::poll(&p, 1, 100) < 0 && errno != EINTR) return false;
        if (p.revents & POLLIN) {
            ssize_t n = ::recv(fd, sink, sizeof sink, MSG_DONTWAIT);
            if (n == 0) return true;  // the target closed the connection
            if (n < 0 && errno != EAGAIN && errno != EINTR) return true;
        } else if (p.revents & (POLLHUP | POLLERR)) {
            return true;
        }
        if (!half_closed && (p.revents & POLLOUT)) {
            ssize_t n = ::send(fd, data + sent, size - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n > 0) sent += size_t(n);
            else if (n < 0 && errno == EPIPE) sent = size;  // the target closed first: stop writing
        }
    }
    return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto& model = fuzz::FuzzModel::get();
    keep_admin_association();
    int fd = open_connection();
    if (!talk(fd, data, size)) {
        std::fprintf(stderr, "fuzz_tcp: the connection did not end within %lld s of the host's last byte\n",
                     static_cast<long long>(kConnectionEndBound.count()));
        std::abort();
    }
    ::close(fd);
    // The transport deletes a closed connection on its reactor's next turn.
    model.run([] {});
    model.run([] {});
    return 0;
}
