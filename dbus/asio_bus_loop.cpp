#include "dbus/asio_bus_loop.hpp"

#include <boost/asio/post.hpp>
#include <poll.h>
#include <sdbus-c++/Error.h>

#include "core/runtime/log.hpp"

namespace nvmfd::dbus {

AsioBusLoop::AsioBusLoop(boost::asio::io_context& io, sdbus::IConnection& connection, LostHandler on_lost)
    : io_(io), connection_(connection), socket_(io), timer_(io), on_lost_(std::move(on_lost)) {}

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
    boost::asio::post(io_, [self = std::weak_ptr<AsioBusLoop*>(self_)] {
        auto loop = self.lock();
        if (!loop) return;
        (*loop)->kick_pending_ = false;
        (*loop)->process();
    });
}

void AsioBusLoop::process() {
    if (broken_) return;
    try {
        // One message per turn of the io_context: what a call posted (Control's
        // events, which the policies handle) runs before the next message is
        // handled, so no client reads a change the policies have not answered
        // yet (a port added under failover.lua, still at its default ANA
        // states). The queue is drained through kick() before sleeping again.
        if (connection_.processPendingRequest()) {
            kick();
            return;
        }
        arm();  // asks sd-bus for its fd and events: throws on a dead bus too
    } catch (const sdbus::Error& e) {
        // The bus went away (dbus-daemon restarted or died). The data path
        // keeps serving; the owner reconnects.
        broken_ = true;
        boost::system::error_code ignored;
        socket_.cancel(ignored);
        timer_.cancel();
        std::string why = fmt::format("{}: {}", e.getName(), e.getMessage());
        if (on_lost_)
            boost::asio::post(io_, [self = std::weak_ptr<AsioBusLoop*>(self_), why] {
                if (auto loop = self.lock()) (*loop)->on_lost_(why);
            });
        else
            log::error("D-Bus connection lost ({}); nvmfd keeps serving but cannot be managed until restarted", why);
    }
}

void AsioBusLoop::arm() {
    auto poll = connection_.getEventLoopPollData();
    uint64_t epoch = ++epoch_;
    boost::system::error_code ignored;
    socket_.cancel(ignored);
    timer_.cancel();
    auto on_ready = [self = std::weak_ptr<AsioBusLoop*>(self_), epoch](const boost::system::error_code& ec) {
        auto loop = self.lock();
        if (!loop || ec == boost::asio::error::operation_aborted || epoch != (*loop)->epoch_) return;
        (*loop)->process();
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
