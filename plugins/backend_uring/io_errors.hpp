// How an errno from the kernel becomes the IoStatus the core turns into an
// NVMe status. Reads fail as media errors, anything that changes the medium
// (writes, flushes, zeroing, deallocation) as write faults, exhausted space
// as Capacity Exceeded. Header-only so that the tests check the table
// itself.
#pragma once

#include <cerrno>

#include "core/plugin/backend.hpp"

namespace nvmfd::plugins::uring {

inline plugin::IoStatus status_for_errno(plugin::IoOp op, int err) {
    using plugin::IoStatus;
    switch (err) {
    case 0: return IoStatus::Ok;
    case ENOSPC:
    case EDQUOT: return IoStatus::NoSpace;
    case EFBIG:
    case ENXIO: return IoStatus::InvalidRange;
    case EOPNOTSUPP: return IoStatus::NotSupported;
    case ECANCELED: return IoStatus::Aborted;
    default: break;
    }
    return op == plugin::IoOp::Read ? IoStatus::ReadError : IoStatus::WriteFault;
}

inline const char* status_name(plugin::IoStatus s) {
    using plugin::IoStatus;
    switch (s) {
    case IoStatus::Ok: return "ok";
    case IoStatus::InvalidRange: return "LBA out of range";
    case IoStatus::ReadError: return "unrecovered read error";
    case IoStatus::WriteFault: return "write fault";
    case IoStatus::NoSpace: return "capacity exceeded";
    case IoStatus::NotSupported: return "not supported";
    case IoStatus::Aborted: return "aborted";
    case IoStatus::Unavailable: return "unavailable";
    case IoStatus::DeviceStatus: return "device status";
    }
    return "?";
}

}  // namespace nvmfd::plugins::uring
