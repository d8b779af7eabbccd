#include "dbus/asio_bus_loop.hpp"

#include <boost/asio/post.hpp>
#include <poll.h>
#include <sdbus-c++/Error.h>

#include "core/runtime/log.hpp"

namespace nvmfd::dbus {

AsioBusLoop::AsioBusLoop(boost::asio::io_context& io, sdbus::IConnection& connection)
    : io_(io), connection_(connection), socket_(io), timer_(io) {}

AsioBusLoop::~AsioBusLoop() {
    boost::system::error_code ec;
    socket_.cancel(ec);
    timer_.cancel();
    // The descriptor belongs to the connection; asio must not close it.
    if (socket_.is_open()) (void)socket_.release();
}

void AsioBusLoop::start() {
    socket_.assign(connection_.getEventLoopPollData().fd);
    process();
}

void AsioBusLoop::kick() {
    if (kick_pending_ || broken_) return;
    kick_pending_ = true;
    boost::asio::post(io_, [this] {
        kick_pending_ = false;
        process();
    });
}

void AsioBusLoop::process() {
    if (broken_) return;
    try {
        // One message per call; drain what is queued before sleeping again.
        while (connection_.processPendingRequest()) {
        }
    } catch (const sdbus::Error& e) {
        // The bus went away (dbus-daemon restarted or died). The data path
        // keeps serving; management over D-Bus needs a daemon restart.
        log::error("D-Bus connection lost ({}: {}); nvmfd keeps serving but cannot be managed until restarted",
                   e.getName(), e.getMessage());
        broken_ = true;
        return;
    }
    arm();
}

void AsioBusLoop::arm() {
    auto poll = connection_.getEventLoopPollData();
    uint64_t epoch = ++epoch_;
    boost::system::error_code ignored;
    socket_.cancel(ignored);
    timer_.cancel();
    auto on_ready = [this, epoch](const boost::system::error_code& ec) {
        if (ec == boost::asio::error::operation_aborted || epoch != epoch_) return;
        process();
    };
    if (poll.events & POLLIN) socket_.async_wait(boost::asio::posix::stream_descriptor::wait_read, on_ready);
    if (poll.events & POLLOUT) socket_.async_wait(boost::asio::posix::stream_descriptor::wait_write, on_ready);
    // sd-bus gives an absolute CLOCK_MONOTONIC time, which is steady_clock's
    // clock on Linux; UINT64_MAX means no timeout, 0 means "now" (e.g.
    // messages already read into sd-bus's queue).
    if (poll.timeout_usec != UINT64_MAX) {
        timer_.expires_at(std::chrono::steady_clock::time_point(std::chrono::microseconds(poll.timeout_usec)));
        timer_.async_wait(on_ready);
    }
}

}  // namespace nvmfd::dbus
