// The SMART / Health log's critical warnings (NVMe base spec, SMART /
// Health Information log, byte 0) and the events that report them.
#pragma once

#include <cstdint>
#include <string>

namespace nvmfd::proto {

namespace critical_warning {
inline constexpr uint8_t kSpare = 1u << 0;        // available spare below its threshold
inline constexpr uint8_t kTemperature = 1u << 1;  // over or under a temperature threshold
inline constexpr uint8_t kReliability = 1u << 2;  // reliability degraded by media errors
inline constexpr uint8_t kReadOnly = 1u << 3;     // the media is read only
inline constexpr uint8_t kVolatileBackup = 1u << 4;
inline constexpr uint8_t kPmrReadOnly = 1u << 5;
inline constexpr uint8_t kAll = 0x3f;
}  // namespace critical_warning

// A SMART / Health event's information (AER completion DW0 bits 15:8).
enum class SmartEventInfo : uint8_t { Reliability = 0x00, TemperatureThreshold = 0x01, SpareBelowThreshold = 0x02 };

// What a host is told for newly raised warnings: temperature and spare
// have their own codes, everything else is "reliability".
SmartEventInfo smart_event_info(uint8_t raised);

// "temperature, read-only" for 0x0a; "none" for 0.
std::string critical_warning_names(uint8_t bits);

}  // namespace nvmfd::proto
