// nvmfd.every(seconds, fn) and nvmfd.after(seconds, fn): Asio steady
// timers on the control thread's io_context; the callback runs like any
// handler (under the call limits, errors reported). A timer returns a
// handle with :cancel(). All timers of a policy die with its Timers.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <lua.hpp>

#include "core/runtime/error.hpp"
#include "lua/limits.hpp"

namespace nvmfd::lua {

class Timers {
public:
    // Runs the Lua function at registry reference `ref`; `what` names the
    // timer in error reports ("every 5 s timer").
    using Fire = std::function<void(int ref, const std::string& what)>;

    Timers(boost::asio::io_context& io, lua_State* L, const PolicyLimits& limits, Fire fire);
    ~Timers();
    Timers(const Timers&) = delete;
    Timers& operator=(const Timers&) = delete;

    // Takes over `ref` (released when the timer ends).
    Result<uint64_t> add(double seconds, bool repeat, int ref);
    bool cancel(uint64_t id);
    size_t active() const { return entries_.size(); }

private:
    struct Entry {
        explicit Entry(boost::asio::io_context& io) : timer(io) {}
        boost::asio::steady_timer timer;
        uint64_t id = 0;
        int ref = LUA_NOREF;
        std::chrono::nanoseconds period{};
        bool repeat = false;
        std::string what;
    };
    void arm(const std::shared_ptr<Entry>& e);
    void expired(const std::shared_ptr<Entry>& e);
    void release(Entry& e);

    boost::asio::io_context& io_;
    lua_State* L_;
    PolicyLimits limits_;
    Fire fire_;
    uint64_t next_id_ = 1;
    std::map<uint64_t, std::shared_ptr<Entry>> entries_;
};

// The Lua side (registered by bindings.cpp).
int l_every(lua_State* L);
int l_after(lua_State* L);
void install_timer_metatable(lua_State* L);

}  // namespace nvmfd::lua
