// Log page identifiers and payload layouts (Get Log Page).
#pragma once

#include <cstddef>
#include <cstdint>

namespace nvmfd::proto {

enum class LogPageId : uint8_t {
    SupportedLogPages = 0x00,
    ErrorInformation = 0x01,
    SmartHealth = 0x02,
    FirmwareSlot = 0x03,
    ChangedNamespaceList = 0x04,
    CommandsSupportedAndEffects = 0x05,
    AsymmetricNamespaceAccess = 0x0c,
    Discovery = 0x70,
};

struct ErrorLogEntry {
    uint64_t error_count;
    uint16_t sqid;
    uint16_t cid;
    uint16_t status;  // CQE status word, phase bit included
    uint16_t parameter_error_location;
    uint64_t lba;
    uint32_t nsid;
    uint8_t vendor_specific;
    uint8_t trtype;
    uint8_t reserved30[2];
    uint64_t command_specific;
    uint16_t transport_specific;
    uint8_t reserved42[22];
};
static_assert(sizeof(ErrorLogEntry) == 64);

struct SmartHealthLog {
    uint8_t critical_warning;
    uint16_t composite_temperature;  // Kelvin; unaligned by specification
    uint8_t available_spare;
    uint8_t available_spare_threshold;
    uint8_t percentage_used;
    uint8_t endurance_group_warning;
    uint8_t reserved7[25];
    uint8_t data_units_read[16];  // 128-bit counters; data units are 1000 x 512 bytes
    uint8_t data_units_written[16];
    uint8_t host_read_commands[16];
    uint8_t host_write_commands[16];
    uint8_t controller_busy_time[16];
    uint8_t power_cycles[16];
    uint8_t power_on_hours[16];
    uint8_t unsafe_shutdowns[16];
    uint8_t media_errors[16];
    uint8_t error_log_entries[16];
    uint32_t warning_temperature_time;
    uint32_t critical_temperature_time;
    uint16_t temperature_sensor[8];
    uint8_t reserved216[296];
} __attribute__((packed));
static_assert(sizeof(SmartHealthLog) == 512);
static_assert(offsetof(SmartHealthLog, data_units_read) == 32);
static_assert(offsetof(SmartHealthLog, error_log_entries) == 176);

struct FirmwareSlotLog {
    uint8_t afi;
    uint8_t reserved1[7];
    char frs[7][8];
    uint8_t reserved64[448];
};
static_assert(sizeof(FirmwareSlotLog) == 512);

inline constexpr size_t kChangedNamespaceListEntries = 1024;  // 4 KiB of NSIDs

struct CommandEffectsLog {
    uint32_t admin[256];
    uint32_t io[256];
    uint8_t reserved[2048];
};
static_assert(sizeof(CommandEffectsLog) == 4096);
namespace effects {
inline constexpr uint32_t kSupported = 1u << 0;
inline constexpr uint32_t kLogicalBlockContentChange = 1u << 1;
inline constexpr uint32_t kNamespaceCapabilityChange = 1u << 2;
inline constexpr uint32_t kNamespaceInventoryChange = 1u << 3;
}  // namespace effects

enum class AnaState : uint8_t {
    Optimized = 0x01,
    NonOptimized = 0x02,
    Inaccessible = 0x03,
    PersistentLoss = 0x04,
    Change = 0x0f,
};

struct AnaLogHeader {
    uint64_t change_count;
    uint16_t group_count;
    uint8_t reserved[6];
};
static_assert(sizeof(AnaLogHeader) == 16);

struct AnaGroupDescriptor {
    uint32_t group_id;
    uint32_t nsid_count;
    uint64_t change_count;
    uint8_t state;
    uint8_t reserved[15];
    // followed by nsid_count NSIDs (uint32_t)
};
static_assert(sizeof(AnaGroupDescriptor) == 32);
inline constexpr uint8_t kAnaLogReturnGroupsOnly = 1u << 0;  // LSP bit 0

// Discovery log page (LID 70h).
struct DiscoveryLogHeader {
    uint64_t generation;
    uint64_t record_count;
    uint16_t record_format;
    uint8_t reserved[1006];
};
static_assert(sizeof(DiscoveryLogHeader) == 1024);

enum class TransportType : uint8_t { Rdma = 1, FibreChannel = 2, Tcp = 3, Loop = 254 };
enum class AddressFamily : uint8_t { Ipv4 = 1, Ipv6 = 2, InfiniBand = 3, FibreChannel = 4, Loop = 254 };
enum class DiscoverySubtype : uint8_t { Referral = 1, Nvme = 2, CurrentDiscovery = 3 };
namespace treq {
inline constexpr uint8_t kSecureChannelNotSpecified = 0;
inline constexpr uint8_t kSecureChannelRequired = 1;
inline constexpr uint8_t kSecureChannelNotRequired = 2;
inline constexpr uint8_t kDisableSqFlowControl = 1u << 2;
}  // namespace treq
// TSAS byte 0 for NVMe/TCP (SECTYPE, TP 8011).
inline constexpr uint8_t kTcpSectypeNone = 0;
inline constexpr uint8_t kTcpSectypeTls13 = 2;
// TSAS for NVMe/RDMA: byte offsets into DiscoveryLogEntry::tsas and their
// values (Linux's union nvmf_tsas; nvmet and SPDK report connected QPs,
// provider not specified, RDMA CM, P_Key 0).
namespace rdma_tsas {
inline constexpr size_t kQptypeOffset = 0;
inline constexpr size_t kPrtypeOffset = 1;
inline constexpr size_t kCmsOffset = 2;
inline constexpr size_t kPkeyOffset = 8;  // little-endian 16 bits (InfiniBand only)
inline constexpr uint8_t kQptypeConnected = 1;
inline constexpr uint8_t kQptypeDatagram = 2;
inline constexpr uint8_t kPrtypeNotSpecified = 1;
inline constexpr uint8_t kPrtypeInfiniBand = 2;
inline constexpr uint8_t kPrtypeRoce = 3;
inline constexpr uint8_t kPrtypeRoceV2 = 4;
inline constexpr uint8_t kPrtypeIwarp = 5;
inline constexpr uint8_t kCmsRdmaCm = 1;
}  // namespace rdma_tsas

struct DiscoveryLogEntry {
    uint8_t trtype;
    uint8_t adrfam;
    uint8_t subtype;
    uint8_t treq;
    uint16_t portid;
    uint16_t cntlid;
    uint16_t asqsz;
    uint16_t eflags;
    uint8_t reserved12[20];
    char trsvcid[32];
    uint8_t reserved64[192];
    char subnqn[256];
    char traddr[256];
    uint8_t tsas[256];
};
static_assert(sizeof(DiscoveryLogEntry) == 1024);
static_assert(offsetof(DiscoveryLogEntry, trsvcid) == 32);
static_assert(offsetof(DiscoveryLogEntry, subnqn) == 256);
static_assert(offsetof(DiscoveryLogEntry, traddr) == 512);

// Asynchronous Event Request completion DW0.
enum class AsyncEventType : uint8_t { Error = 0, SmartHealth = 1, Notice = 2, IoCommandSet = 6, Vendor = 7 };
enum class AsyncNotice : uint8_t {
    NamespaceAttributeChanged = 0x00,
    FirmwareActivationStarting = 0x01,
    TelemetryLogChanged = 0x02,
    AnaChange = 0x03,
    DiscoveryLogChange = 0xf0,
};
constexpr uint32_t async_event_dw0(AsyncEventType type, uint8_t info, LogPageId log) {
    return uint32_t(type) | (uint32_t(info) << 8) | (uint32_t(log) << 16);
}

}  // namespace nvmfd::proto
