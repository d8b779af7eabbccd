#include "core/proto/status.hpp"

namespace nvmfd::proto {

const char* status_name(Status s) {
    using namespace status;
    struct Entry {
        Status status;
        const char* name;
    };
    static constexpr Entry kNames[] = {
        {kSuccess, "success"},
        {kInvalidOpcode, "invalid opcode"},
        {kInvalidField, "invalid field in command"},
        {kCommandIdConflict, "command id conflict"},
        {kDataTransferError, "data transfer error"},
        {kInternalError, "internal error"},
        {kAbortRequested, "command abort requested"},
        {kAbortSqDeleted, "command aborted due to SQ deletion"},
        {kInvalidNamespace, "invalid namespace or format"},
        {kCommandSequenceError, "command sequence error"},
        {kInvalidSglSegment, "invalid SGL segment descriptor"},
        {kSglLengthInvalid, "data SGL length invalid"},
        {kSglTypeInvalid, "SGL descriptor type invalid"},
        {kSglOffsetInvalid, "SGL offset invalid"},
        {kHostIdInconsistent, "host identifier inconsistent format"},
        {kTransientTransportError, "transient transport error"},
        {kKeepAliveExpired, "keep alive timer expired"},
        {kLbaOutOfRange, "LBA out of range"},
        {kCapacityExceeded, "capacity exceeded"},
        {kNamespaceNotReady, "namespace not ready"},
        {kInvalidQueueId, "invalid queue identifier"},
        {kMaxQueueSizeExceeded, "invalid queue size"},
        {kAbortLimitExceeded, "abort command limit exceeded"},
        {kAsyncEventLimitExceeded, "asynchronous event request limit exceeded"},
        {kInvalidLogPage, "invalid log page"},
        {kFeatureNotSaveable, "feature identifier not saveable"},
        {kFeatureNotChangeable, "feature not changeable"},
        {kNamespaceWriteProtected, "namespace is write protected"},
        {kConnectIncompatibleFormat, "connect: incompatible format"},
        {kConnectControllerBusy, "connect: controller busy"},
        {kConnectInvalidParameters, "connect: invalid parameters"},
        {kConnectRestartDiscovery, "connect: restart discovery"},
        {kConnectInvalidHost, "connect: invalid host"},
        {kConnectAuthRequired, "connect: authentication required"},
        {kWriteFault, "write fault"},
        {kUnrecoveredReadError, "unrecovered read error"},
        {kCompareFailure, "compare failure"},
        {kAccessDenied, "access denied"},
        {kInternalPathError, "internal path error"},
        {kAnaPersistentLoss, "ANA persistent loss"},
        {kAnaInaccessible, "ANA inaccessible"},
        {kAnaTransition, "ANA transition"},
    };
    for (const Entry& e : kNames)
        if (e.status == s) return e.name;
    return "unknown status";
}

}  // namespace nvmfd::proto
