#include "plugins/backend_pcie/drive_events.hpp"

#include <cstring>

#include <fmt/format.h>

#include "core/proto/smart.hpp"

namespace nvmfd::plugins::pcie {
namespace {

using proto::AsyncEventType;

const char* info_name(const DriveEvent& e) {
    switch (e.type) {
    case AsyncEventType::Error:
        switch (e.info) {
        case 0: return "write to an invalid doorbell register";
        case 1: return "invalid doorbell write value";
        case 2: return "diagnostic failure";
        case 3: return "persistent internal error";
        case 4: return "transient internal error";
        case 5: return "firmware image load error";
        default: return nullptr;
        }
    case AsyncEventType::SmartHealth:
        switch (e.info) {
        case 0: return "subsystem reliability";
        case 1: return "temperature threshold";
        case 2: return "spare below threshold";
        default: return nullptr;
        }
    case AsyncEventType::Notice:
        switch (e.info) {
        case 0: return "namespace attribute changed";
        case 1: return "firmware activation starting";
        case 2: return "telemetry log changed";
        case 3: return "asymmetric namespace access change";
        default: return nullptr;
        }
    default: return nullptr;
    }
}

const char* type_name(AsyncEventType t) {
    switch (t) {
    case AsyncEventType::Error: return "error event";
    case AsyncEventType::SmartHealth: return "SMART/health event";
    case AsyncEventType::Notice: return "notice";
    case AsyncEventType::IoCommandSet: return "I/O command set event";
    case AsyncEventType::Vendor: return "vendor-specific event";
    }
    return "event";
}

// The low 64 bits of a 128-bit little-endian counter.
uint64_t counter(const uint8_t (&c)[16]) {
    uint64_t v;
    std::memcpy(&v, c, sizeof v);
    return v;
}

}  // namespace

DriveEvent parse_drive_event(uint32_t dw0) {
    return {AsyncEventType(dw0 & 7), uint8_t(dw0 >> 8), proto::LogPageId(uint8_t(dw0 >> 16))};
}

uint32_t event_log_bytes(proto::LogPageId log) {
    switch (log) {
    case proto::LogPageId::ErrorInformation: return sizeof(proto::ErrorLogEntry);
    case proto::LogPageId::ChangedNamespaceList: return 4096;
    default: return 512;
    }
}

std::string describe_event(const DriveEvent& e) {
    const char* info = info_name(e);
    return info ? fmt::format("{}: {}", type_name(e.type), info)
                : fmt::format("{} {:#x} (log page {:#x})", type_name(e.type), e.info, uint8_t(e.log));
}

std::string describe_smart(std::span<const uint8_t> page) {
    proto::SmartHealthLog log{};
    std::memcpy(&log, page.data(), std::min(page.size(), sizeof log));
    const std::string warnings = log.critical_warning ? " (" + proto::critical_warning_names(log.critical_warning) + ")" : "";
    const uint16_t kelvin = log.composite_temperature;
    return fmt::format("critical warning {:#x}{}, composite temperature {} °C, available spare {}% (threshold {}%), "
                       "{}% of its rated life used, {} media errors",
                       log.critical_warning, warnings, int(kelvin) - 273,
                       log.available_spare, log.available_spare_threshold, log.percentage_used,
                       counter(log.media_errors));
}

ChangedNamespaces parse_changed_namespaces(std::span<const uint8_t> page) {
    ChangedNamespaces out;
    for (size_t i = 0; i + 4 <= page.size() && i / 4 < proto::kChangedNamespaceListEntries; i += 4) {
        uint32_t nsid;
        std::memcpy(&nsid, page.data() + i, 4);
        if (nsid == 0) break;  // the list ends at the first zero
        if (nsid == 0xffffffff) {
            out.more = true;
            out.nsids.clear();
            break;
        }
        out.nsids.push_back(nsid);
    }
    return out;
}

}  // namespace nvmfd::plugins::pcie
