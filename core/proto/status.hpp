// NVMe status values: status code type (SCT) and status code (SC) packed into
// the 15-bit status field of a CQE (bits 1..15 of the CQE status word).
#pragma once

#include <cstdint>

namespace nvmfd::proto {

enum class StatusCodeType : uint8_t { Generic = 0, CommandSpecific = 1, MediaError = 2, PathRelated = 3 };

// A status is (SCT << 8) | SC, the encoding the Linux kernel uses, so values
// read the same as in its logs ("status 0x182").
struct Status {
    uint16_t value = 0;

    constexpr Status() = default;
    constexpr explicit Status(uint16_t v) : value(v) {}
    constexpr Status(StatusCodeType sct, uint8_t sc) : value(static_cast<uint16_t>((uint16_t(sct) << 8) | sc)) {}

    constexpr bool ok() const { return value == 0; }
    constexpr StatusCodeType sct() const { return static_cast<StatusCodeType>((value >> 8) & 0x7); }
    constexpr uint8_t sc() const { return static_cast<uint8_t>(value & 0xff); }
    constexpr bool dnr() const { return (value & kDnr) != 0; }
    constexpr Status with_dnr() const { return Status(static_cast<uint16_t>(value | kDnr)); }

    // The CQE status word: phase bit 0, SC bits 1-8, SCT bits 9-11, DNR bit 15.
    constexpr uint16_t cqe_status() const {
        return static_cast<uint16_t>(((value & 0x7ff) << 1) | ((value & kDnr) ? 0x8000 : 0));
    }
    static constexpr Status from_cqe(uint16_t cqe_status) {
        uint16_t v = (cqe_status >> 1) & 0x7ff;
        if (cqe_status & 0x8000) v |= kDnr;
        return Status(v);
    }
    constexpr bool operator==(const Status& o) const { return (value & 0x7ff) == (o.value & 0x7ff); }

    static constexpr uint16_t kDnr = 0x4000;  // kept beside SCT/SC in our encoding
};

namespace status {
// Generic command status (SCT 0)
inline constexpr Status kSuccess{StatusCodeType::Generic, 0x00};
inline constexpr Status kInvalidOpcode{StatusCodeType::Generic, 0x01};
inline constexpr Status kInvalidField{StatusCodeType::Generic, 0x02};
inline constexpr Status kCommandIdConflict{StatusCodeType::Generic, 0x03};
inline constexpr Status kDataTransferError{StatusCodeType::Generic, 0x04};
inline constexpr Status kInternalError{StatusCodeType::Generic, 0x06};
inline constexpr Status kAbortRequested{StatusCodeType::Generic, 0x07};
inline constexpr Status kAbortSqDeleted{StatusCodeType::Generic, 0x08};
inline constexpr Status kInvalidNamespace{StatusCodeType::Generic, 0x0b};
inline constexpr Status kCommandSequenceError{StatusCodeType::Generic, 0x0c};
inline constexpr Status kInvalidSglSegment{StatusCodeType::Generic, 0x0d};
inline constexpr Status kSglLengthInvalid{StatusCodeType::Generic, 0x0f};
inline constexpr Status kSglTypeInvalid{StatusCodeType::Generic, 0x11};
inline constexpr Status kSglOffsetInvalid{StatusCodeType::Generic, 0x16};
inline constexpr Status kHostIdInconsistent{StatusCodeType::Generic, 0x18};
inline constexpr Status kTransientTransportError{StatusCodeType::Generic, 0x22};
inline constexpr Status kKeepAliveExpired{StatusCodeType::Generic, 0x19};
inline constexpr Status kLbaOutOfRange{StatusCodeType::Generic, 0x80};
inline constexpr Status kCapacityExceeded{StatusCodeType::Generic, 0x81};
inline constexpr Status kNamespaceNotReady{StatusCodeType::Generic, 0x82};

// Command specific status (SCT 1)
inline constexpr Status kInvalidQueueId{StatusCodeType::CommandSpecific, 0x01};
inline constexpr Status kMaxQueueSizeExceeded{StatusCodeType::CommandSpecific, 0x02};
inline constexpr Status kAbortLimitExceeded{StatusCodeType::CommandSpecific, 0x03};
inline constexpr Status kAsyncEventLimitExceeded{StatusCodeType::CommandSpecific, 0x05};
inline constexpr Status kInvalidLogPage{StatusCodeType::CommandSpecific, 0x09};
inline constexpr Status kFeatureNotSaveable{StatusCodeType::CommandSpecific, 0x0d};
inline constexpr Status kFeatureNotChangeable{StatusCodeType::CommandSpecific, 0x0e};
inline constexpr Status kNamespaceWriteProtected{StatusCodeType::CommandSpecific, 0x20};
// Fabrics Connect (SCT 1)
inline constexpr Status kConnectIncompatibleFormat{StatusCodeType::CommandSpecific, 0x80};
inline constexpr Status kConnectControllerBusy{StatusCodeType::CommandSpecific, 0x81};
inline constexpr Status kConnectInvalidParameters{StatusCodeType::CommandSpecific, 0x82};
inline constexpr Status kConnectRestartDiscovery{StatusCodeType::CommandSpecific, 0x83};
inline constexpr Status kConnectInvalidHost{StatusCodeType::CommandSpecific, 0x84};
inline constexpr Status kConnectAuthRequired{StatusCodeType::CommandSpecific, 0x91};
// NVM command set specific (SCT 1)
inline constexpr Status kConflictingAttributes{StatusCodeType::CommandSpecific, 0x80};

// Media and data integrity errors (SCT 2)
inline constexpr Status kWriteFault{StatusCodeType::MediaError, 0x80};
inline constexpr Status kUnrecoveredReadError{StatusCodeType::MediaError, 0x81};
inline constexpr Status kCompareFailure{StatusCodeType::MediaError, 0x85};
inline constexpr Status kAccessDenied{StatusCodeType::MediaError, 0x86};

// Path related status (SCT 3)
inline constexpr Status kInternalPathError{StatusCodeType::PathRelated, 0x00};
inline constexpr Status kAnaPersistentLoss{StatusCodeType::PathRelated, 0x01};
inline constexpr Status kAnaInaccessible{StatusCodeType::PathRelated, 0x02};
inline constexpr Status kAnaTransition{StatusCodeType::PathRelated, 0x03};
}  // namespace status

const char* status_name(Status s);

}  // namespace nvmfd::proto
