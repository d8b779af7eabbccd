#include "lua/peer_watch.hpp"

#include <fmt/format.h>

#include "lua/args.hpp"
#include "lua/bindings.hpp"
#include "lua/errors.hpp"
#include "lua/probes.hpp"

namespace nvmfd::lua {
namespace {

constexpr const char* kWatchMeta = "nvmfd.peer_watch";

struct Handle {
    uint64_t id;
};

int l_cancel(lua_State* L) {
    auto* h = static_cast<Handle*>(luaL_checkudata(L, 1, kWatchMeta));
    auto* watches = binding_context(L).watches;
    lua_pushboolean(L, watches && watches->cancel(h->id));
    return 1;
}

}  // namespace

PeerWatches::PeerWatches(boost::asio::io_context& io, size_t max_watches, Report report)
    : io_(io), max_watches_(max_watches), report_(std::move(report)) {}

PeerWatches::~PeerWatches() {
    *alive_ = nullptr;
    for (auto& [id, w] : watches_) w->timer.cancel();
    sessions_->close_all();
}

Result<uint64_t> PeerWatches::add(std::string name, ProbeTarget target, std::chrono::milliseconds interval,
                                  unsigned missed) {
    if (watches_.size() >= max_watches_)
        return make_error(ErrorCode::Busy, fmt::format("a policy may watch at most {} peers", max_watches_), "");
    auto w = std::make_shared<Watch>(io_);
    w->id = next_id_++;
    w->name = std::move(name);
    w->target = std::move(target);
    w->interval = interval;
    w->missed = missed;
    watches_[w->id] = w;
    probe(w);  // the first probe at once: a peer's state is known within one probe
    return w->id;
}

bool PeerWatches::cancel(uint64_t id) {
    auto it = watches_.find(id);
    if (it == watches_.end()) return false;
    it->second->timer.cancel();
    watches_.erase(it);
    return true;
}

void PeerWatches::arm(const std::shared_ptr<Watch>& w) {
    w->timer.expires_after(w->interval);
    w->timer.async_wait([alive = std::weak_ptr<PeerWatches*>(alive_), weak = std::weak_ptr<Watch>(w)](
                            const boost::system::error_code& ec) {
        auto self = alive.lock();
        auto w = weak.lock();
        if (ec || !self || !*self || !w) return;
        (*self)->probe(w);
    });
}

void PeerWatches::probe(const std::shared_ptr<Watch>& w) {
    arm(w);
    if (w->in_flight) return;  // the last one is still out (timeout > interval)
    w->in_flight = true;
    start_probe(io_, w->target, sessions_,
                [alive = std::weak_ptr<PeerWatches*>(alive_), weak = std::weak_ptr<Watch>(w)](ProbeResult r) {
                    auto self = alive.lock();
                    auto w = weak.lock();
                    if (!self || !*self || !w) return;  // unloaded or cancelled meanwhile
                    w->in_flight = false;
                    (*self)->result(w, r);
                });
}

void PeerWatches::result(const std::shared_ptr<Watch>& w, const ProbeResult& r) {
    using State = Watch::State;
    PeerChange c{w->name, w->target.address, w->target.port, r.ok, r.ok ? "" : r.error, 0};
    if (r.ok) {
        w->misses = 0;
        if (w->state == State::Up) return;
        w->state = State::Up;
    } else {
        ++w->misses;
        if (w->state == State::Down || w->misses < w->missed) return;
        w->state = State::Down;
        c.missed = w->misses;
    }
    report_(c);
}

int l_watch_peer(lua_State* L) {
    auto& ctx = binding_context(L);
    if (lua_type(L, 1) != LUA_TTABLE) raise_invalid(L, "nvmfd.watch_peer: the argument must be a table", "peer");
    Options o(L, 1, {"name", "address", "port", "kind", "subsystem", "hostnqn", "interval", "missed", "timeout"});
    double interval = seconds_field(L, 1, "interval", 1.0, 0.05, 3600);
    ProbeTarget t = read_probe_target(L, 1, o, std::min(interval, 60.0));
    std::string name = o.string("name").value_or(t.address + ":" + t.port);
    auto missed = o.uint("missed", 1000).value_or(3);
    if (missed == 0) raise_invalid(L, "must be 1 to 1000", "missed");
    auto* h = static_cast<Handle*>(lua_newuserdatauv(L, sizeof(Handle), 0));
    h->id = 0;
    luaL_setmetatable(L, kWatchMeta);
    if (ctx.recorder) return 1;  // a dry run lists the watch; it sends nothing to the peer
    auto id = ctx.watches->add(std::move(name), std::move(t),
                               std::chrono::milliseconds(static_cast<int64_t>(interval * 1000)),
                               static_cast<unsigned>(missed));
    if (!id) raise_error(L, id.error());
    h->id = *id;
    return 1;
}

void install_watch_metatable(lua_State* L) { install_cancel_metatable(L, kWatchMeta, l_cancel); }

}  // namespace nvmfd::lua
