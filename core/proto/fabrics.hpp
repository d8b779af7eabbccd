// NVMe over Fabrics command capsules (Connect, Property Get/Set, Disconnect)
// and the data they carry. These overlay proto::Sqe byte for byte.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/proto/nvme.hpp"

namespace nvmfd::proto {

enum class FabricsType : uint8_t {
    PropertySet = 0x00,
    Connect = 0x01,
    PropertyGet = 0x04,
    AuthenticationSend = 0x05,
    AuthenticationReceive = 0x06,
    Disconnect = 0x08,
};

struct ConnectCommand {
    uint8_t opcode;  // 0x7f
    uint8_t reserved1;
    uint16_t cid;
    uint8_t fctype;  // 0x01
    uint8_t reserved2[19];
    SglDescriptor sgl;
    uint16_t recfmt;
    uint16_t qid;
    uint16_t sqsize;  // 0's based
    uint8_t cattr;
    uint8_t reserved3;
    uint32_t kato;  // milliseconds
    uint8_t reserved4[12];
};
static_assert(sizeof(ConnectCommand) == sizeof(Sqe));
static_assert(offsetof(ConnectCommand, recfmt) == 40);
static_assert(offsetof(ConnectCommand, qid) == 42);
static_assert(offsetof(ConnectCommand, sqsize) == 44);
static_assert(offsetof(ConnectCommand, cattr) == 46);
static_assert(offsetof(ConnectCommand, kato) == 48);

inline constexpr uint8_t kConnectAttrDisableSqFlowControl = 1u << 2;
inline constexpr uint16_t kDynamicControllerId = 0xffff;

struct ConnectData {
    uint8_t hostid[16];
    uint16_t cntlid;
    uint8_t reserved1[238];
    char subnqn[256];
    char hostnqn[256];
    uint8_t reserved2[256];
};
static_assert(sizeof(ConnectData) == 1024);
static_assert(offsetof(ConnectData, cntlid) == 16);
static_assert(offsetof(ConnectData, subnqn) == 256);
static_assert(offsetof(ConnectData, hostnqn) == 512);

// Connect response DW0 on success: CNTLID in bits 0-15, AUTHREQ in 16-31.
// On "invalid parameters" DW0 carries IATTR (bit 16: 1 = the offset is into
// the Connect data, 0 = into the SQE) and IPO (bits 0-15), as Linux decodes it.
constexpr uint32_t connect_invalid_sqe_field(size_t offset) { return static_cast<uint32_t>(offset); }
constexpr uint32_t connect_invalid_data_field(size_t offset) { return (1u << 16) | static_cast<uint32_t>(offset); }

struct PropertyCommand {
    uint8_t opcode;
    uint8_t reserved1;
    uint16_t cid;
    uint8_t fctype;
    uint8_t reserved2[35];
    uint8_t attrib;  // bits 0-2: 0 = 4 bytes, 1 = 8 bytes
    uint8_t reserved3[3];
    uint32_t offset;
    uint64_t value;  // Property Set only
    uint8_t reserved4[8];
};
static_assert(sizeof(PropertyCommand) == sizeof(Sqe));
static_assert(offsetof(PropertyCommand, attrib) == 40);
static_assert(offsetof(PropertyCommand, offset) == 44);
static_assert(offsetof(PropertyCommand, value) == 48);

// Controller properties (the fabrics view of the PCIe BAR registers).
namespace property {
inline constexpr uint32_t kCap = 0x00;   // 8 bytes
inline constexpr uint32_t kVs = 0x08;    // 4 bytes
inline constexpr uint32_t kIntms = 0x0c;
inline constexpr uint32_t kIntmc = 0x10;
inline constexpr uint32_t kCc = 0x14;    // 4 bytes
inline constexpr uint32_t kCsts = 0x1c;  // 4 bytes
inline constexpr uint32_t kNssr = 0x20;  // 4 bytes
}  // namespace property

namespace cc {
inline constexpr uint32_t kEnable = 1u << 0;
constexpr uint32_t css(uint32_t v) { return (v >> 4) & 0x7; }
constexpr uint32_t mps(uint32_t v) { return (v >> 7) & 0xf; }
constexpr uint32_t ams(uint32_t v) { return (v >> 11) & 0x7; }
constexpr uint32_t shn(uint32_t v) { return (v >> 14) & 0x3; }
constexpr uint32_t iosqes(uint32_t v) { return (v >> 16) & 0xf; }
constexpr uint32_t iocqes(uint32_t v) { return (v >> 20) & 0xf; }
}  // namespace cc

namespace csts {
inline constexpr uint32_t kReady = 1u << 0;
inline constexpr uint32_t kFatal = 1u << 1;
inline constexpr uint32_t kShutdownOccurring = 1u << 2;
inline constexpr uint32_t kShutdownComplete = 2u << 2;
inline constexpr uint32_t kShutdownMask = 3u << 2;
}  // namespace csts

constexpr uint32_t nvme_version(uint32_t major, uint32_t minor, uint32_t tertiary = 0) {
    return (major << 16) | (minor << 8) | tertiary;
}

inline constexpr const char* kDiscoveryNqn = "nqn.2014-08.org.nvmexpress.discovery";

}  // namespace nvmfd::proto
