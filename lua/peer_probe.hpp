// Health probes of peer gateways: a TCP connect, an NVMe/TCP discovery
// controller (ICReq, Connect, Keep Alive), or a subsystem's admin
// controller that also reads the ANA log page, so a gateway learns both
// that its peer serves and which ANA groups the peer claims on that port.
// Probes run on the control thread's io_context and never block it; each
// is bounded by its timeout.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
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

// Starts a probe; `done` runs once on the io_context's thread, unless the
// io_context is destroyed first.
void start_probe(boost::asio::io_context& io, ProbeTarget target, std::function<void(ProbeResult)> done);

}  // namespace nvmfd::lua
