#include "tools/host/discovery.hpp"

#include <algorithm>
#include <cstring>
#include <fmt/format.h>

#include "core/proto/log_pages.hpp"
#include "tools/host/errors.hpp"

namespace nvmfd::host {

namespace {

constexpr uint8_t kDiscoveryLid = static_cast<uint8_t>(proto::LogPageId::Discovery);
constexpr uint64_t kMaxRecords = 4096;  // 4 MiB of log; more is a broken target, not a big one
constexpr int kAttempts = 4;

proto::DiscoveryLogHeader read_header(Controller& ctrl, bool retain_async_event) {
    proto::DiscoveryLogHeader header{};
    proto::Status s = ctrl.get_log_page(kDiscoveryLid, std::as_writable_bytes(std::span(&header, 1)), 0, 0, 0,
                                        retain_async_event);
    if (!s.ok())
        throw StatusError(s, 0, fmt::format("Get Log Page (discovery) header failed: {}", proto::status_name(s)));
    if (header.record_format != 0)
        throw ProtocolError(fmt::format("discovery log RECFMT {}, only 0 is defined", header.record_format));
    if (header.record_count > kMaxRecords)
        throw ProtocolError(fmt::format("discovery log claims {} records", header.record_count));
    return header;
}

}  // namespace

DiscoveryLog read_discovery_log(Controller& ctrl) {
    uint64_t chunk = ctrl.max_transfer_bytes();
    chunk = chunk == 0 ? 64 * 1024 : std::min<uint64_t>(chunk, 64 * 1024);
    chunk -= chunk % sizeof(proto::DiscoveryLogEntry);
    if (chunk == 0) chunk = sizeof(proto::DiscoveryLogEntry);

    for (int attempt = 0; attempt < kAttempts; ++attempt) {
        proto::DiscoveryLogHeader header = read_header(ctrl, true);
        std::vector<std::byte> records(header.record_count * sizeof(proto::DiscoveryLogEntry));
        for (uint64_t at = 0; at < records.size(); at += chunk) {
            uint64_t length = std::min<uint64_t>(chunk, records.size() - at);
            proto::Status s = ctrl.get_log_page(kDiscoveryLid, std::span(records).subspan(at, length),
                                                sizeof(proto::DiscoveryLogHeader) + at, 0, 0, true);
            if (!s.ok())
                throw StatusError(s, 0, fmt::format("Get Log Page (discovery) records at offset {} failed: {}",
                                                    sizeof(proto::DiscoveryLogHeader) + at, proto::status_name(s)));
        }
        // Reading the header again without RAE also clears the discovery change event.
        proto::DiscoveryLogHeader again = read_header(ctrl, false);
        if (again.generation != header.generation) continue;
        return {header.generation, parse_discovery_entries(records, header.record_count)};
    }
    throw ProtocolError(fmt::format("discovery log generation changed during each of {} reads", kAttempts));
}

DiscoveryLog discover(const Endpoint& endpoint, ControllerOptions options) {
    options.subnqn = proto::kDiscoveryNqn;
    Controller ctrl = Controller::connect(endpoint, options);
    return read_discovery_log(ctrl);
}

std::optional<DiscoveryEntry> first_nvm_subsystem(const DiscoveryLog& log) {
    for (const DiscoveryEntry& e : log.entries)
        if (e.subtype == proto::DiscoverySubtype::Nvme) return e;
    return std::nullopt;
}

std::string describe(const DiscoveryEntry& e) {
    const char* subtype = e.subtype == proto::DiscoverySubtype::Nvme               ? "nvme subsystem"
                          : e.subtype == proto::DiscoverySubtype::CurrentDiscovery ? "current discovery subsystem"
                          : e.subtype == proto::DiscoverySubtype::Referral         ? "referral"
                                                                                   : "unknown subtype";
    const char* transport = e.trtype == proto::TransportType::Tcp             ? "tcp"
                            : e.trtype == proto::TransportType::Rdma          ? "rdma"
                            : e.trtype == proto::TransportType::FibreChannel ? "fc"
                            : e.trtype == proto::TransportType::Loop          ? "loop"
                                                                               : "unknown";
    return fmt::format("{} {} traddr {} trsvcid {} portid {} ({})", transport, e.subnqn, e.traddr, e.trsvcid, e.portid,
                       subtype);
}

}  // namespace nvmfd::host
