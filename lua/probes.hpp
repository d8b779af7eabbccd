// nvmfd.probe(target, fn): a policy's health probes of peer gateways
// (peer_probe.hpp). Like timers, the callbacks belong to the policy: they
// are dropped when it is unloaded, and each runs under the policy's limits.
#pragma once

#include <functional>
#include <memory>
#include <set>
#include <string>

#include <boost/asio/io_context.hpp>
#include <lua.hpp>

#include "core/runtime/error.hpp"
#include "lua/peer_probe.hpp"

namespace nvmfd::lua {

class Probes {
public:
    // Calls the Lua function at registry reference `ref` with the result.
    using Fire = std::function<void(int ref, const ProbeResult& result, const std::string& what)>;

    Probes(boost::asio::io_context& io, lua_State* L, size_t max_in_flight, Fire fire);
    ~Probes();
    Probes(const Probes&) = delete;
    Probes& operator=(const Probes&) = delete;

    // Takes over `ref` (released once the callback ran, or here on error).
    Result<void> start(ProbeTarget target, int ref);
    size_t in_flight() const { return refs_.size(); }

private:
    boost::asio::io_context& io_;
    lua_State* L_;
    size_t max_in_flight_;
    Fire fire_;
    std::set<int> refs_;
    std::shared_ptr<ProbeSessions> sessions_ = std::make_shared<ProbeSessions>();
    // Probes outlive an unloaded policy until their socket closes: they
    // check this before touching it.
    std::shared_ptr<Probes*> alive_ = std::make_shared<Probes*>(this);
};

// The binding: nvmfd.probe({address=, port=, kind=, subsystem=, hostnqn=, timeout=}, fn)
int l_probe(lua_State* L);

class Options;
// The probe target described by the table at `arg` (read through `o`, which
// knows the keys the binding accepts); raises an error naming a bad field.
ProbeTarget read_probe_target(lua_State* L, int arg, const Options& o, double default_timeout);
// Seconds in field `key` of the table at `arg`, from min to max (nil: fallback).
double seconds_field(lua_State* L, int arg, const char* key, double fallback, double min, double max);
// result -> {ok, error, seconds, change_count, ana = {[group] = "optimized", ...}}
void push_probe_result(lua_State* L, const ProbeResult& r);

}  // namespace nvmfd::lua
