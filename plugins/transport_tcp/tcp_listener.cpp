#include "plugins/transport_tcp/tcp_listener.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <utility>

#include "core/runtime/log.hpp"
#include "plugins/transport_tcp/tcp_transport.hpp"

namespace nvmfd::plugins::tcp {
namespace {

using std::chrono::milliseconds;

constexpr milliseconds kFirstBackoff{100};
constexpr milliseconds kLongestBackoff{2000};
constexpr std::chrono::seconds kReportInterval{1};

// The peer's address without its port: what pending connections are counted by.
std::string peer_host(const sockaddr_storage& ss) {
    char host[INET6_ADDRSTRLEN] = "?";
    if (ss.ss_family == AF_INET)
        ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&ss)->sin_addr, host, sizeof host);
    else
        ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_addr, host, sizeof host);
    return host;
}

std::string describe_peer(const sockaddr_storage& ss, const std::string& host) {
    if (ss.ss_family == AF_INET)
        return fmt::format("{}:{}", host, ntohs(reinterpret_cast<const sockaddr_in*>(&ss)->sin_port));
    return fmt::format("[{}]:{}", host, ntohs(reinterpret_cast<const sockaddr_in6*>(&ss)->sin6_port));
}

// accept() failures that last until something else frees resources: the
// pending connection stays queued and the socket stays readable.
bool out_of_resources(int err) { return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM; }

}  // namespace

Listener::Listener(TcpTransport& t, runtime::Reactor& r, int fd, uint16_t port_id, plugin::SecureChannel secure)
    : transport_(t), reactor_(r), fd_(fd), port_id_(port_id), secure_(secure), backoff_(kFirstBackoff) {}

Listener::~Listener() { ::close(fd_); }

void Listener::start() { reactor_.add_fd(fd_, EPOLLIN, *this); }

void Listener::stop() {
    if (retry_timer_) reactor_.cancel_timer(std::exchange(retry_timer_, 0));
    if (limit_report_timer_) reactor_.cancel_timer(std::exchange(limit_report_timer_, 0));
    reactor_.remove_fd(fd_);
}

void Listener::on_fd_event(uint32_t) {
    for (int i = 0; i < 64; ++i) {
        sockaddr_storage ss{};
        socklen_t len = sizeof ss;
        int fd = ::accept4(fd_, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            int err = errno;
            if (out_of_resources(err)) back_off(err);
            else if (err != EAGAIN && err != EWOULDBLOCK && err != EINTR && err != ECONNABORTED)
                log::warn("tcp: accept on port {}: {}", port_id_, std::strerror(err));
            return;
        }
        backoff_ = kFirstBackoff;
        if (paused_) {
            paused_ = false;
            log::notice("tcp: port {} takes new hosts again", port_id_);
            transport_.env().port_state_changed(port_id_, true, "");
        }
        hand_over(fd, ss);
    }
}

void Listener::hand_over(int fd, const sockaddr_storage& peer) {
    std::string address = peer_host(peer);
    uint32_t held = 0;
    if (!transport_.pending().admit(address, held)) {
        refuse(fd, address, held);
        return;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    runtime::Reactor& target = transport_.env().reactors().least_loaded();
    target.adjust_load(+1);
    TcpTransport* t = &transport_;
    uint16_t port = port_id_;
    auto secure = secure_;
    target.post([t, &target, fd, port, secure, name = describe_peer(peer, address), address] {
        t->adopt(target, fd, port, name, address, secure);
    });
}

void Listener::refuse(int fd, const std::string& address, uint32_t held) {
    // A reset, not a FIN: a flood leaves no TIME_WAIT socket per refusal.
    linger reset{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    ::close(fd);
    ++limit_refusals_;
    refused_address_ = address;
    refused_held_ = held;
    if (!limit_report_timer_) report_refusals();
}

void Listener::report_refusals() {
    // The first refusal is reported at once, later ones once per interval:
    // a flood cannot flood the log.
    limit_report_timer_ = 0;
    if (limit_refusals_ == 0) return;
    log::notice("tcp: port {} refused {} connection(s) at accept, the last from {}: that address has {} connections "
                "that have not completed Connect (max-pending-connections-per-address = {})",
                port_id_, limit_refusals_, refused_address_, refused_held_, transport_.pending().max_per_address());
    limit_refusals_ = 0;
    limit_report_timer_ = reactor_.add_timer(kReportInterval, [this] { report_refusals(); });
}

void Listener::back_off(int err) {
    ++refusals_;
    if (!paused_) {
        paused_ = true;
        transport_.env().port_state_changed(port_id_, false, fmt::format("accept: {}", std::strerror(err)));
    }
    reactor_.modify_fd(fd_, 0, *this);
    auto now = runtime::Clock::now();
    if (now - last_report_ >= kReportInterval) {
        log::warn("tcp: accept on port {}: {} ({} refusal(s) since the last report); retrying in {} ms", port_id_,
                  std::strerror(err), refusals_, backoff_.count());
        refusals_ = 0;
        last_report_ = now;
    }
    retry_timer_ = reactor_.add_timer(backoff_, [this] { resume(); });
    backoff_ = std::min(backoff_ * 2, kLongestBackoff);
}

void Listener::resume() {
    retry_timer_ = 0;
    reactor_.modify_fd(fd_, EPOLLIN, *this);
}

}  // namespace nvmfd::plugins::tcp
