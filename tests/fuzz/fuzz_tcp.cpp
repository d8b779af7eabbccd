// libFuzzer target: the NVMe/TCP receive path and connection state machine
// (plugins/transport_tcp) with bytes from a host. The input is the byte
// stream a host sends on one connection; it reaches the transport's real
// code through a socketpair adopted by a TcpTransport on the fuzz model's
// reactor, exactly as an accepted socket is, and whatever the target
// answers is read (and followed for R2Ts). The connection must end (the harness shuts
// its side down after the last byte) within a bound, or it is a hang.
//
// I/O queues (writes through R2T and H2CData, reads through C2HData) need a
// controller: the harness keeps one admin association open for the whole
// run (controller ID 1, the first the subsystem hands out, enabled, no
// keep-alive), so an input may Connect an I/O queue to controller 1.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>
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
    // As the listener does: count the peer as pending and the reactor's
    // load; the connection gives both back. Plaintext: TLS is not fuzzed here.
    uint32_t held = 0;
    if (!transport().pending().admit("fuzz", held)) std::abort();
    model.reactor().adjust_load(+1);
    model.run([&] {
        transport().adopt(model.reactor(), fds[0], fuzz::kPortId, "fuzz", "fuzz", plugin::SecureChannel::None);
    });
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

// The target's side of the stream, followed PDU by PDU (type at byte 0,
// PLEN at byte 4) for its R2Ts: a host sends H2CData only for a TTAG an R2T
// gave it, so the harness holds an input's H2CData back until then.
class TargetStream {
public:
    // Read what is there; false once the target closed its end.
    bool drain(int fd) {
        uint8_t buf[65536];
        for (;;) {
            ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
            if (n == 0) return false;
            if (n < 0) return errno == EAGAIN || errno == EINTR;
            follow(buf, size_t(n));
        }
    }
    bool r2t_seen(uint16_t ttag) const { return std::find(ttags_.begin(), ttags_.end(), ttag) != ttags_.end(); }
    void r2t_done(uint16_t ttag) { std::erase(ttags_, ttag); }

private:
    void follow(const uint8_t* p, size_t n) {
        while (n && !lost_) {
            if (skip_) {
                size_t k = std::min<size_t>(skip_, n);
                skip_ -= k, p += k, n -= k;
                continue;
            }
            size_t k = std::min(n, sizeof header_ - have_);
            std::memcpy(header_ + have_, p, k);
            have_ += k, p += k, n -= k;
            if (have_ < sizeof header_) continue;
            uint32_t plen;
            std::memcpy(&plen, header_ + 4, 4);
            if (plen < sizeof header_) {
                lost_ = true;  // not NVMe/TCP framing any more: no more R2Ts to find
                break;
            }
            if (header_[0] == 0x09) ttags_.push_back(uint16_t(header_[10] | header_[11] << 8));
            skip_ = plen - sizeof header_;
            have_ = 0;
        }
    }
    uint8_t header_[12] = {};  // common header, CCCID, TTAG
    size_t have_ = 0;
    size_t skip_ = 0;
    bool lost_ = false;
    std::vector<uint16_t> ttags_;
};

// Send `data` PDU by PDU (by its own PLEN fields, however wrong) while
// reading the answers, then half-close and read until the target closes
// its end. False if that takes too long.
bool talk(int fd, const uint8_t* data, size_t size) {
    auto deadline = std::chrono::steady_clock::now() + kConnectionEndBound;
    TargetStream in;
    size_t sent = 0, pdu_end = 0;
    bool open = true;
    while (open && sent < size) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        if (sent == pdu_end) {
            // The next PDU; a PLEN past the input's end or below a header's
            // size sends the rest at once.
            uint32_t plen = 0;
            if (size - sent >= 8) std::memcpy(&plen, data + sent + 4, 4);
            pdu_end = plen >= 8 && plen <= size - sent ? sent + plen : size;
            if (size - sent >= 12 && data[sent] == 0x06) {
                // H2CData: wait (a little) for the R2T that names its TTAG.
                uint16_t ttag = uint16_t(data[sent + 10] | data[sent + 11] << 8);
                auto wait_end = std::chrono::steady_clock::now() + std::chrono::milliseconds(50);
                while (open && !in.r2t_seen(ttag) && std::chrono::steady_clock::now() < wait_end) {
                    pollfd p{fd, POLLIN, 0};
                    ::poll(&p, 1, 5);
                    open = in.drain(fd);
                }
                if (data[sent + 1] & 0x04) in.r2t_done(ttag);  // LAST_PDU: the TTAG may come again
            }
        }
        pollfd p{fd, short(POLLIN | POLLOUT), 0};
        if (::poll(&p, 1, 100) < 0 && errno != EINTR) return false;
        if (p.revents & (POLLIN | POLLHUP | POLLERR)) open = in.drain(fd);
        if (p.revents & POLLOUT) {
            ssize_t n = ::send(fd, data + sent, pdu_end - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (n > 0) sent += size_t(n);
            else if (n < 0 && errno == EPIPE) open = false;  // the target closed first
        }
    }
    ::shutdown(fd, SHUT_WR);
    while (open) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 100) < 0 && errno != EINTR) return false;
        open = in.drain(fd);
    }
    return true;
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
