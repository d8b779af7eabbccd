#include "lua/timers.hpp"

#include <cmath>
#include <fmt/format.h>

#include "lua/bindings.hpp"
#include "lua/errors.hpp"

namespace nvmfd::lua {
namespace {

constexpr const char* kTimerMeta = "nvmfd.timer";
constexpr double kMaxSeconds = 366.0 * 24 * 3600;  // keeps the duration far from overflow

struct Handle {
    uint64_t id;
};

int add_timer(lua_State* L, bool repeat) {
    auto& ctx = binding_context(L);
    const char* fn = repeat ? "every" : "after";
    if (lua_type(L, 1) != LUA_TNUMBER) raise_invalid(L, fmt::format("nvmfd.{}: must be a number of seconds", fn), "seconds");
    double seconds = lua_tonumber(L, 1);
    if (lua_type(L, 2) != LUA_TFUNCTION) raise_invalid(L, fmt::format("nvmfd.{}: must be a function", fn), "fn");
    lua_settop(L, 2);
    int ref = luaL_ref(L, LUA_REGISTRYINDEX);
    auto id = ctx.timers->add(seconds, repeat, ref);
    if (!id) raise_error(L, id.error());  // add released the reference
    auto* h = static_cast<Handle*>(lua_newuserdatauv(L, sizeof(Handle), 0));
    h->id = *id;
    luaL_setmetatable(L, kTimerMeta);
    return 1;
}

int l_cancel(lua_State* L) {
    auto* h = static_cast<Handle*>(luaL_checkudata(L, 1, kTimerMeta));
    lua_pushboolean(L, binding_context(L).timers->cancel(h->id));
    return 1;
}

}  // namespace

int l_every(lua_State* L) { return add_timer(L, true); }
int l_after(lua_State* L) { return add_timer(L, false); }

void install_timer_metatable(lua_State* L) { install_cancel_metatable(L, kTimerMeta, l_cancel); }

Timers::Timers(boost::asio::io_context& io, lua_State* L, const PolicyLimits& limits, Fire fire)
    : io_(io), L_(L), limits_(limits), fire_(std::move(fire)) {}

Timers::~Timers() {
    // Cancelled waits complete later with operation_aborted; their handlers
    // hold only weak references and return.
    for (auto& [id, e] : entries_) e->timer.cancel();
}

Result<uint64_t> Timers::add(double seconds, bool repeat, int ref) {
    auto min = std::chrono::duration<double>(limits_.min_timer_period).count();
    std::string problem;
    if (!std::isfinite(seconds) || seconds < min || seconds > kMaxSeconds)
        problem = fmt::format("must be from {} to {} seconds", min, kMaxSeconds);
    else if (entries_.size() >= limits_.max_timers)
        problem = fmt::format("a policy may have at most {} active timers", limits_.max_timers);
    if (!problem.empty()) {
        luaL_unref(L_, LUA_REGISTRYINDEX, ref);
        return make_error(ErrorCode::InvalidArgument, std::move(problem), "seconds");
    }
    auto e = std::make_shared<Entry>(io_);
    e->id = next_id_++;
    e->ref = ref;
    e->repeat = repeat;
    e->period = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(seconds));
    e->what = fmt::format("{} {} s timer", repeat ? "every" : "after", seconds);
    entries_[e->id] = e;
    e->timer.expires_after(e->period);
    arm(e);
    return e->id;
}

void Timers::arm(const std::shared_ptr<Entry>& e) {
    e->timer.async_wait([this, weak = std::weak_ptr<Entry>(e)](const boost::system::error_code& ec) {
        auto e = weak.lock();  // gone: cancelled, or its policy unloaded (then `this` is gone too)
        if (ec || !e) return;
        expired(e);
    });
}

void Timers::expired(const std::shared_ptr<Entry>& e) {
    if (e->repeat) {
        // Re-armed before the callback runs, so that it can cancel itself;
        // from the last deadline, so that the period does not drift.
        auto next = e->timer.expiry() + e->period;
        auto now = boost::asio::steady_timer::clock_type::now();
        e->timer.expires_at(next > now ? next : now + e->period);  // late: skip, do not catch up
        arm(e);
    } else {
        entries_.erase(e->id);
    }
    fire_(e->ref, e->what);
    if (!e->repeat) release(*e);
}

bool Timers::cancel(uint64_t id) {
    auto it = entries_.find(id);
    if (it == entries_.end()) return false;
    auto e = it->second;
    entries_.erase(it);
    e->timer.cancel();
    release(*e);
    return true;
}

void Timers::release(Entry& e) {
    luaL_unref(L_, LUA_REGISTRYINDEX, e.ref);
    e.ref = LUA_NOREF;
}

}  // namespace nvmfd::lua
