// NVMe base-specification wire formats shared by every transport and command
// handler: the submission/completion queue entries, SGL descriptors, opcodes.
// All structs are little-endian wire images; sizes and offsets are asserted.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>

namespace nvmfd::proto {

static_assert(std::endian::native == std::endian::little,
              "wire structs are used in place; a big-endian port needs byte swapping");

// SGL descriptor (bytes 24..39 of a fabrics SQE). Data Block descriptors
// have a 32-bit length at byte 8; a Keyed SGL Data Block (NVMe/RDMA) has a
// 24-bit length at byte 8 and a 32-bit key at bytes 11..14, so `length` read
// whole includes the key's low byte there: use keyed_length() or
// sgl_data_length().
struct SglDescriptor {
    uint64_t address;
    uint32_t length;
    uint8_t reserved[3];
    uint8_t type;  // descriptor type in the high nibble, subtype in the low nibble

    constexpr uint8_t descriptor_type() const { return type >> 4; }
    constexpr uint8_t subtype() const { return type & 0x0f; }
    constexpr uint32_t keyed_length() const { return length & kKeyedLengthMask; }
    constexpr uint32_t key() const {
        return (length >> 24) | (uint32_t(reserved[0]) << 8) | (uint32_t(reserved[1]) << 16) |
               (uint32_t(reserved[2]) << 24);
    }

    static constexpr uint32_t kKeyedLengthMask = 0xffffff;
};
static_assert(sizeof(SglDescriptor) == 16);
static_assert(offsetof(SglDescriptor, length) == 8);
static_assert(offsetof(SglDescriptor, reserved) == 12);
static_assert(offsetof(SglDescriptor, type) == 15);

namespace sgl {
inline constexpr uint8_t kDataBlock = 0x0;
inline constexpr uint8_t kKeyedDataBlock = 0x4;
inline constexpr uint8_t kTransportDataBlock = 0x5;
inline constexpr uint8_t kSubtypeAddress = 0x0;
inline constexpr uint8_t kSubtypeOffset = 0x1;
inline constexpr uint8_t kSubtypeTransport = 0xA;
inline constexpr uint8_t kSubtypeInvalidateKey = 0xF;
// The two descriptors an NVMe/TCP host sends: in-capsule data, and data to be
// moved by the transport (R2T/H2CData for writes, C2HData for reads).
inline constexpr uint8_t kInCapsule = (kDataBlock << 4) | kSubtypeOffset;
inline constexpr uint8_t kTransport = (kTransportDataBlock << 4) | kSubtypeTransport;
// What an NVMe/RDMA host sends for data the target moves with RDMA READ and
// WRITE: a keyed descriptor naming the host's memory (address, remote key),
// with the Invalidate Key subtype when the host wants the key invalidated by
// the response (SEND with Invalidate). No-data commands carry kKeyed with
// length 0 and key 0.
inline constexpr uint8_t kKeyed = (kKeyedDataBlock << 4) | kSubtypeAddress;
inline constexpr uint8_t kKeyedInvalidate = (kKeyedDataBlock << 4) | kSubtypeInvalidateKey;
}  // namespace sgl

// The number of data bytes a descriptor describes: 24 bits for a keyed
// descriptor, 32 for the others.
constexpr uint32_t sgl_data_length(const SglDescriptor& d) {
    return d.descriptor_type() == sgl::kKeyedDataBlock ? d.keyed_length() : d.length;
}

// A Keyed SGL Data Block descriptor (what an NVMe/RDMA host builds).
constexpr SglDescriptor keyed_sgl(uint64_t address, uint32_t length, uint32_t key, bool invalidate = false) {
    SglDescriptor d{};
    d.address = address;
    d.length = (length & SglDescriptor::kKeyedLengthMask) | ((key & 0xff) << 24);
    d.reserved[0] = static_cast<uint8_t>(key >> 8);
    d.reserved[1] = static_cast<uint8_t>(key >> 16);
    d.reserved[2] = static_cast<uint8_t>(key >> 24);
    d.type = invalidate ? sgl::kKeyedInvalidate : sgl::kKeyed;
    return d;
}

// Submission queue entry, 64 bytes. Command-specific views reinterpret cdw10+.
struct Sqe {
    uint8_t opcode;
    uint8_t flags;  // bits 0-1 fused, bits 6-7 PSDT
    uint16_t cid;
    uint32_t nsid;
    uint32_t cdw2;
    uint32_t cdw3;
    uint64_t mptr;
    SglDescriptor sgl;
    uint32_t cdw10;
    uint32_t cdw11;
    uint32_t cdw12;
    uint32_t cdw13;
    uint32_t cdw14;
    uint32_t cdw15;

    // Fabrics commands overlay byte 4 (nsid) with the fabrics command type.
    uint8_t fctype() const { return static_cast<uint8_t>(nsid & 0xff); }
    uint8_t fused() const { return flags & 0x3; }
    uint8_t psdt() const { return flags >> 6; }
};
static_assert(sizeof(Sqe) == 64);
static_assert(offsetof(Sqe, sgl) == 24);
static_assert(offsetof(Sqe, cdw10) == 40);

// Completion queue entry, 16 bytes.
struct Cqe {
    union {
        uint32_t dw0;
        uint64_t result64;  // Property Get of an 8-byte property uses dw0 and dw1
    };
    uint16_t sqhd;
    uint16_t sqid;
    uint16_t cid;
    uint16_t status;  // bit 0 phase, bits 1-15 status field (see status.hpp)
};
static_assert(sizeof(Cqe) == 16);
static_assert(offsetof(Cqe, sqhd) == 8);
static_assert(offsetof(Cqe, status) == 14);

enum class AdminOpcode : uint8_t {
    DeleteIoSq = 0x00,
    CreateIoSq = 0x01,
    GetLogPage = 0x02,
    DeleteIoCq = 0x04,
    CreateIoCq = 0x05,
    Identify = 0x06,
    Abort = 0x08,
    SetFeatures = 0x09,
    GetFeatures = 0x0a,
    AsyncEventRequest = 0x0c,
    NamespaceManagement = 0x0d,
    FirmwareCommit = 0x10,
    FirmwareDownload = 0x11,
    DeviceSelfTest = 0x14,
    NamespaceAttachment = 0x15,
    KeepAlive = 0x18,
    DirectiveSend = 0x19,
    DirectiveReceive = 0x1a,
    Fabrics = 0x7f,
    FormatNvm = 0x80,
    SecuritySend = 0x81,
    SecurityReceive = 0x82,
    Sanitize = 0x84,
};

enum class IoOpcode : uint8_t {
    Flush = 0x00,
    Write = 0x01,
    Read = 0x02,
    WriteUncorrectable = 0x04,
    Compare = 0x05,
    WriteZeroes = 0x08,
    DatasetManagement = 0x09,
    Verify = 0x0c,
    ReservationRegister = 0x0d,
    ReservationReport = 0x0e,
    ReservationAcquire = 0x11,
    ReservationRelease = 0x15,
    Fabrics = 0x7f,
};

// Data transfer direction is encoded in the low two opcode bits (NVMe base
// spec, "Opcodes"): 01b host to controller, 10b controller to host.
enum class DataDirection : uint8_t { None = 0, HostToController = 1, ControllerToHost = 2, Bidirectional = 3 };
constexpr DataDirection opcode_direction(uint8_t opcode) { return static_cast<DataDirection>(opcode & 0x3); }

// Dataset Management range (16 bytes each, up to 256 per command).
struct DsmRange {
    uint32_t attributes;
    uint32_t nlb;  // 1-based here, unlike the SQE's 0's-based NLB
    uint64_t slba;
};
static_assert(sizeof(DsmRange) == 16);

inline constexpr uint32_t kDsmAttrDeallocate = 1u << 2;  // CDW11 AD bit
inline constexpr uint32_t kBroadcastNsid = 0xffffffffu;

}  // namespace nvmfd::proto

namespace nvmfd::proto {

enum class FeatureId : uint8_t {
    Arbitration = 0x01,
    PowerManagement = 0x02,
    TemperatureThreshold = 0x04,
    ErrorRecovery = 0x05,
    VolatileWriteCache = 0x06,
    NumberOfQueues = 0x07,
    InterruptCoalescing = 0x08,
    InterruptVectorConfig = 0x09,
    WriteAtomicity = 0x0a,
    AsyncEventConfig = 0x0b,
    AutonomousPowerStateTransition = 0x0c,
    KeepAliveTimer = 0x0f,
    HostIdentifier = 0x81,
};

// Get Features select field (CDW10 bits 8-10).
enum class FeatureSelect : uint8_t { Current = 0, Default = 1, Saved = 2, Capabilities = 3 };

}  // namespace nvmfd::proto
