#include "core/proto/smart.hpp"

#include <iterator>

namespace nvmfd::proto {

SmartEventInfo smart_event_info(uint8_t raised) {
    if (raised & critical_warning::kTemperature) return SmartEventInfo::TemperatureThreshold;
    if (raised & critical_warning::kSpare) return SmartEventInfo::SpareBelowThreshold;
    return SmartEventInfo::Reliability;
}

std::string critical_warning_names(uint8_t bits) {
    static constexpr const char* kNames[] = {"available spare below threshold", "temperature",
                                             "reliability degraded", "read-only",
                                             "volatile memory backup failed", "persistent memory region read-only"};
    std::string out;
    for (unsigned bit = 0; bit < 8; ++bit) {
        if (!(bits & (1u << bit))) continue;
        if (!out.empty()) out += ", ";
        out += bit < std::size(kNames) ? kNames[bit] : "reserved bit " + std::to_string(bit);
    }
    return out.empty() ? "none" : out;
}

}  // namespace nvmfd::proto
