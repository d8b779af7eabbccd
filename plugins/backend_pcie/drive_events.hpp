// A drive's asynchronous events (NVMe base spec, "Asynchronous Event
// Request command"): what nvmfd asks the drive to report, what a
// completion says, and the log lines an admin reads for them. The
// controller keeps requests outstanding on the admin queue; each
// completion names a log page, which nvmfd reads (that ends the event, so
// the drive may report the next) before asking again. Pure: no device.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/proto/log_pages.hpp"

namespace nvmfd::plugins::pcie {

// Asynchronous Event Configuration: every SMART critical warning (7:0) and
// namespace attribute changes (bit 8); a drive refusing bit 8 gets 7:0.
inline constexpr uint32_t kSmartWarnings = 0xff;
inline constexpr uint32_t kNamespaceNotices = 1u << 8;
// Requests kept at the drive: its limit (AERL + 1), at most this many.
inline constexpr unsigned kMaxEventRequests = 4;

struct DriveEvent {
    proto::AsyncEventType type = proto::AsyncEventType::Error;
    uint8_t info = 0;
    proto::LogPageId log = proto::LogPageId::ErrorInformation;
};
DriveEvent parse_drive_event(uint32_t dw0);

// How much of the event's log page nvmfd reads (reading any of it ends the event).
uint32_t event_log_bytes(proto::LogPageId log);

// "SMART/health event: temperature threshold", "notice: namespace attribute changed", ...
std::string describe_event(const DriveEvent& e);
// "critical warning 0x2 (temperature), composite temperature 50 °C, available
// spare 100% (threshold 10%), 3% of its rated life used, 0 media errors"
std::string describe_smart(std::span<const uint8_t> page);

// The NSIDs of a Changed Namespace List page (4 KiB); `more`: over 1024
// changed, the drive lists none (its first entry is FFFFFFFFh).
struct ChangedNamespaces {
    std::vector<uint32_t> nsids;
    bool more = false;
};
ChangedNamespaces parse_changed_namespaces(std::span<const uint8_t> page);

}  // namespace nvmfd::plugins::pcie
