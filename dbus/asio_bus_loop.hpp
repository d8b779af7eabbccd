// Runs an sdbus-c++ connection inside a Boost.Asio io_context instead of a
// thread of its own, so that every D-Bus call is handled on the control
// thread, one at a time, next to signals and timers. It waits for what
// sd-bus asks for (readable, writable, a timeout) and then lets sd-bus
// process everything that is pending.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <sdbus-c++/IConnection.h>

namespace nvmfd::dbus {

class AsioBusLoop {
public:
    // on_lost runs (posted to io, never inside a dispatch) once the bus
    // connection is gone, with why; the owner may destroy the loop then.
    using LostHandler = std::function<void(const std::string& why)>;

    AsioBusLoop(boost::asio::io_context& io, sdbus::IConnection& connection, LostHandler on_lost = {});
    ~AsioBusLoop();
    AsioBusLoop(const AsioBusLoop&) = delete;
    AsioBusLoop& operator=(const AsioBusLoop&) = delete;

    void start();
    // Messages were queued outside a dispatch (signals raised by an event):
    // process and wait again, soon, on the io_context.
    void kick();

private:
    void process();
    void arm();

    boost::asio::io_context& io_;
    sdbus::IConnection& connection_;
    boost::asio::posix::stream_descriptor socket_;
    boost::asio::steady_timer timer_;
    uint64_t epoch_ = 0;  // waits from an older arm() are stale
    bool kick_pending_ = false;
    bool broken_ = false;
    LostHandler on_lost_;
    // Posted work holds a weak copy: it must not touch a destroyed loop.
    std::shared_ptr<AsioBusLoop*> self_ = std::make_shared<AsioBusLoop*>(this);
};

}  // namespace nvmfd::dbus
