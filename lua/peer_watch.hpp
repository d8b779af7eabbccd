// nvmfd.watch_peer: a peer's health as events. The engine probes the peer
// every interval (peer_probe.hpp) and calls the policy's on_peer_change
// when the peer comes up (it answers) or goes down (`missed` probes in a
// row fail), so that a policy need not count probes itself. Watches belong
// to their policy: unloading it stops them.
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
#include "lua/peer_probe.hpp"

namespace nvmfd::lua {

struct PeerChange {
    std::string name;
    std::string address;
    std::string port;
    bool up = false;
    std::string reason;  // down: the last probe's error; up: ""
    unsigned missed = 0; // failed probes in a row when it went down
};

class PeerWatches {
public:
    using Report = std::function<void(const PeerChange&)>;

    PeerWatches(boost::asio::io_context& io, size_t max_watches, Report report);
    ~PeerWatches();
    PeerWatches(const PeerWatches&) = delete;
    PeerWatches& operator=(const PeerWatches&) = delete;

    Result<uint64_t> add(std::string name, ProbeTarget target, std::chrono::milliseconds interval, unsigned missed);
    bool cancel(uint64_t id);
    size_t active() const { return watches_.size(); }

private:
    struct Watch {
        explicit Watch(boost::asio::io_context& io) : timer(io) {}
        uint64_t id = 0;
        std::string name;
        ProbeTarget target;
        std::chrono::milliseconds interval{};
        unsigned missed = 0;
        unsigned misses = 0;
        enum class State { Unknown, Up, Down } state = State::Unknown;
        bool in_flight = false;
        boost::asio::steady_timer timer;
    };
    void arm(const std::shared_ptr<Watch>& w);
    void probe(const std::shared_ptr<Watch>& w);
    void result(const std::shared_ptr<Watch>& w, const ProbeResult& r);

    boost::asio::io_context& io_;
    size_t max_watches_;
    Report report_;
    uint64_t next_id_ = 1;
    std::map<uint64_t, std::shared_ptr<Watch>> watches_;
    std::shared_ptr<ProbeSessions> sessions_ = std::make_shared<ProbeSessions>();
    std::shared_ptr<PeerWatches*> alive_ = std::make_shared<PeerWatches*>(this);
};

// nvmfd.watch_peer({name=, address=, port=, kind=, subsystem=, hostnqn=,
// interval=, missed=, timeout=}) -> watch (with :cancel())
int l_watch_peer(lua_State* L);
void install_watch_metatable(lua_State* L);

}  // namespace nvmfd::lua
