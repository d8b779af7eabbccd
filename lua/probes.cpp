#include "lua/probes.hpp"

#include <cmath>

#include <fmt/format.h>

#include "core/target/ana.hpp"
#include "lua/args.hpp"
#include "lua/bindings.hpp"
#include "lua/errors.hpp"

namespace nvmfd::lua {

// The NQN a probe connects as unless the policy names one: subsystems with
// an allow-list must allow it for "ana" probes.
constexpr const char* kDefaultProbeHostNqn = "nqn.2026-11.io.nvmfd:gateway-probe";
constexpr double kMinTimeout = 0.01, kMaxTimeout = 60.0;

Probes::Probes(boost::asio::io_context& io, lua_State* L, size_t max_in_flight, Fire fire)
    : io_(io), L_(L), max_in_flight_(max_in_flight), fire_(std::move(fire)) {}

Probes::~Probes() {
    *alive_ = nullptr;
    sessions_->close_all();  // the peers' controllers of our probes end now
    for (int ref : refs_) luaL_unref(L_, LUA_REGISTRYINDEX, ref);
}

Result<void> Probes::start(ProbeTarget target, int ref) {
    if (refs_.size() >= max_in_flight_) {
        luaL_unref(L_, LUA_REGISTRYINDEX, ref);
        return make_error(ErrorCode::Busy,
                          fmt::format("a policy may have at most {} probes in flight", max_in_flight_), "");
    }
    refs_.insert(ref);
    std::string what = fmt::format("probe of {}:{} ({})", target.address, target.port, probe_kind_name(target.kind));
    start_probe(io_, std::move(target), sessions_, [alive = alive_, ref, what](ProbeResult r) {
        Probes* self = *alive;
        if (!self) return;  // the policy is gone, and its Lua state with it
        self->refs_.erase(ref);
        self->fire_(ref, r, what);
        luaL_unref(self->L_, LUA_REGISTRYINDEX, ref);
    });
    return {};
}

void push_probe_result(lua_State* L, const ProbeResult& r) {
    lua_createtable(L, 0, 5);
    lua_pushboolean(L, r.ok);
    lua_setfield(L, -2, "ok");
    if (!r.ok) {
        lua_pushlstring(L, r.error.data(), r.error.size());
        lua_setfield(L, -2, "error");
    }
    lua_pushnumber(L, std::chrono::duration<double>(r.elapsed).count());
    lua_setfield(L, -2, "seconds");
    if (!r.ana.empty()) {
        lua_pushinteger(L, static_cast<lua_Integer>(r.ana_change_count));
        lua_setfield(L, -2, "change_count");
        lua_createtable(L, 0, static_cast<int>(r.ana.size()));
        for (const auto& [group, state] : r.ana) {
            lua_pushstring(L, target::ana_state_name(state));
            lua_rawseti(L, -2, group);
        }
        lua_setfield(L, -2, "ana");
    }
}

// Seconds from field `key` of the table at `arg` (nil: fallback).
double seconds_field(lua_State* L, int arg, const char* key, double fallback, double min, double max) {
    lua_getfield(L, arg, key);
    double s = fallback;
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TNUMBER) raise_invalid(L, "must be a number of seconds", key);
        s = lua_tonumber(L, -1);
        if (!std::isfinite(s) || s < min || s > max)
            raise_invalid(L, fmt::format("must be from {} to {} seconds", min, max), key);
    }
    lua_pop(L, 1);
    return s;
}

ProbeTarget read_probe_target(lua_State* L, int arg, const Options& o, double default_timeout) {
    ProbeTarget t;
    auto address = o.string("address");
    if (!address || address->empty()) raise_invalid(L, "a probe needs an address", "address");
    t.address = *address;
    std::string kind = o.string("kind").value_or("discovery");
    auto k = parse_probe_kind(kind);
    if (!k) raise_invalid(L, fmt::format("'{}' is not tcp, discovery or ana", kind), "kind");
    t.kind = *k;
    t.subsystem = o.string("subsystem").value_or("");
    if (t.kind == ProbeKind::Ana && t.subsystem.empty())
        raise_invalid(L, "an ana probe needs the subsystem whose ANA log it reads", "subsystem");
    t.hostnqn = o.string("hostnqn").value_or(kDefaultProbeHostNqn);
    if (t.hostnqn.size() > 223) raise_invalid(L, "an NQN has at most 223 bytes", "hostnqn");
    if (t.subsystem.size() > 223) raise_invalid(L, "an NQN has at most 223 bytes", "subsystem");
    lua_getfield(L, arg, "port");  // a number or a service name
    if (lua_isinteger(L, -1) && lua_tointeger(L, -1) > 0 && lua_tointeger(L, -1) <= 65535)
        t.port = std::to_string(lua_tointeger(L, -1));
    else if (lua_type(L, -1) == LUA_TSTRING)
        t.port = lua_tostring(L, -1);
    else if (!lua_isnil(L, -1))
        raise_invalid(L, "must be a port number (1-65535) or a service name", "port");
    lua_pop(L, 1);
    double s = seconds_field(L, arg, "timeout", default_timeout, kMinTimeout, kMaxTimeout);
    t.timeout = std::chrono::milliseconds(static_cast<int64_t>(s * 1000));
    return t;
}

int l_probe(lua_State* L) {
    auto& ctx = binding_context(L);
    if (lua_type(L, 1) != LUA_TTABLE) raise_invalid(L, "nvmfd.probe: the first argument must be a table", "target");
    if (lua_type(L, 2) != LUA_TFUNCTION) raise_invalid(L, "nvmfd.probe: the second argument must be a function", "fn");
    ProbeTarget t = read_probe_target(L, 1, Options(L, 1, {"address", "port", "kind", "subsystem", "hostnqn", "timeout"}),
                                      1.0);
    if (ctx.recorder) return 0;  // a dry run lists the probe; it sends nothing to the peer
    lua_settop(L, 2);
    int ref = luaL_ref(L, LUA_REGISTRYINDEX);
    if (auto started = ctx.probes->start(std::move(t), ref); !started) raise_error(L, started.error());
    return 0;
}

}  // namespace nvmfd::lua
