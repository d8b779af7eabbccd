// Health probes of peer gateways: a TCP connect, an NVMe/TCP discovery
// controller (ICReq, Connect, Keep Alive), or a subsystem's admin
// controller that also reads the ANA log page, so a gateway learns both
// that its peer serves and which ANA groups the peer claims on that port.
// Probes run on the control thread's io_context and never block it; each
// is bounded by its timeout.
//
// The admin connection of a discovery or ana probe is kept for the next
// probe of the same target (ProbeSessions), as a host keeps its
// association: one controller per watched peer instead of one per probe, a
// Keep Alive per probe, and a probe of a live peer costs one round trip or
// two. A kept connection that fails is replaced by a fresh one within the
// same probe, so a peer that restarted between two probes is not reported
// down.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>

#include "core/proto/log_pages.hpp"

namespace nvmfd::lua {

enum class ProbeKind { Tcp, Discovery, Ana };

std::optional<ProbeKind> parse_probe_kind(std::string_view s);
const char* probe_kind_name(ProbeKind k);

struct ProbeTarget {
    ProbeKind kind = ProbeKind::Discovery;
    std::string address;  // IPv4/IPv6 literal or host name
    std::string port = "4420";
    std::string subsystem;  // ProbeKind::Ana: the subsystem whose ANA log is read
    std::string hostnqn;    // the NQN the probe connects as
    std::chrono::milliseconds timeout{1000};  // the whole probe
};

struct ProbeResult {
    bool ok = false;
    std::string error;  // why not ok: "connect: Connection refused", "timed out after 500 ms (Connect)"
    std::chrono::microseconds elapsed{};
    uint64_t ana_change_count = 0;
    std::map<uint32_t, proto::AnaState> ana;  // ProbeKind::Ana: group -> state on the probed port
};

// Connections kept between probes, by target. Closing them (or destroying
// the last reference) ends the peers' controllers of these probes.
class ProbeSessions {
public:
    ProbeSessions();
    ~ProbeSessions();
    ProbeSessions(const ProbeSessions&) = delete;
    ProbeSessions& operator=(const ProbeSessions&) = delete;
    void close_all();
    size_t idle() const;

    struct Session;
    std::shared_ptr<Session> take(const std::string& key);
    void give_back(const std::string& key, std::shared_ptr<Session> s);

private:
    std::map<std::string, std::shared_ptr<Session>> idle_;
};

// Starts a probe; `done` runs once on the io_context's thread, unless the
// io_context is destroyed first. `sessions` may be null (no reuse).
void start_probe(boost::asio::io_context& io, ProbeTarget target, std::shared_ptr<ProbeSessions> sessions,
                 std::function<void(ProbeResult)> done);

}  // namespace nvmfd::lua
