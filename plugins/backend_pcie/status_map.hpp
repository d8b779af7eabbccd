// A drive's completion status, turned into what the fabric host is told
// (docs/pcie-design.md 7.1). Statuses about the data or the namespace pass
// through with their Do Not Retry bit; statuses that mean nvmfd built a bad
// command become Internal Error (with DNR, and the admin hears of it);
// the drive's own path statuses (its ANA groups, not nvmfd's) become ones
// that make a multipath host try another path; Command Retry Delay and More
// point into the drive's Identify and error log, which hosts never see,
// and are dropped. Aborts nvmfd caused (its Abort, its reset deleting the
// queue) are retried by the backend, not reported.
#pragma once

#include <cstdint>

#include "core/proto/status.hpp"

namespace nvmfd::plugins::pcie {

struct MappedStatus {
    enum class Outcome {
        Done,   // complete the command with `host`
        Retry,  // nvmfd's own abort or reset: submit it again (if retries are left, else `host`)
    };
    Outcome outcome = Outcome::Done;
    proto::Status host;
    bool nvmfd_fault = false;  // the drive says nvmfd built a bad command: log it loudly
};

// `cqe_status`: the CQE's status word (phase in bit 0).
inline MappedStatus map_drive_status(uint16_t cqe_status) {
    using proto::Status;
    using proto::StatusCodeType;
    namespace st = proto::status;
    const Status s = Status::from_cqe(cqe_status);  // SCT, SC and DNR only: CRD and More dropped
    const auto keep = [&](Status v) { return s.dnr() ? v.with_dnr() : v; };
    if (s.ok()) return {};
    switch (s.sct()) {
    case StatusCodeType::Generic:
        switch (s.sc()) {
        case 0x07:  // Command Abort Requested: nvmfd's Abort
        case 0x08:  // Command Aborted due to SQ Deletion: nvmfd's reset
            return {MappedStatus::Outcome::Retry, Status(StatusCodeType::Generic, s.sc()), false};
        case 0x05:  // Aborted due to Power Loss Notification
        case 0x06:  // Internal Error
        case 0x80:  // LBA Out of Range
        case 0x81:  // Capacity Exceeded
        case 0x82:  // Namespace Not Ready
        case 0x83:  // Reservation Conflict
            return {MappedStatus::Outcome::Done, keep(s), false};
        case 0x04:  // Data Transfer Error: an IOMMU fault, worth another try
            return {MappedStatus::Outcome::Done, st::kInternalError, true};
        default:    // Invalid Opcode/Field/Namespace, PRP or SGL errors, ...: nvmfd's command was bad
            return {MappedStatus::Outcome::Done, st::kInternalError.with_dnr(), true};
        }
    case StatusCodeType::CommandSpecific:
        switch (s.sc()) {
        case 0x80:  // Conflicting Attributes (DSM)
        case 0x81:  // Invalid Protection Information
        case 0x82:  // Attempted Write to Read Only Range
            return {MappedStatus::Outcome::Done, keep(s), false};
        default:
            return {MappedStatus::Outcome::Done, st::kInternalError.with_dnr(), true};
        }
    case StatusCodeType::MediaError:  // Write Fault, Unrecovered Read Error, ...: the data's own
        return {MappedStatus::Outcome::Done, keep(s), false};
    case StatusCodeType::PathRelated:
        // The drive's ANA states are not nvmfd's: a transition is "not ready, try again",
        // anything else sends a multipath host to another path.
        if (s.sc() == 0x03) return {MappedStatus::Outcome::Done, st::kNamespaceNotReady, false};
        return {MappedStatus::Outcome::Done, Status(StatusCodeType::PathRelated, 0x00), false};
    }
    return {MappedStatus::Outcome::Done, keep(st::kInternalError), true};  // vendor specific and reserved types
}

}  // namespace nvmfd::plugins::pcie
