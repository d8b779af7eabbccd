#include "core/plugin/backend.hpp"

namespace nvmfd::plugin {

const char* io_status_name(IoStatus s) {
    switch (s) {
    case IoStatus::Ok: return "ok";
    case IoStatus::InvalidRange: return "invalid range";
    case IoStatus::ReadError: return "read error";
    case IoStatus::WriteFault: return "write fault";
    case IoStatus::NoSpace: return "no space";
    case IoStatus::NotSupported: return "not supported";
    case IoStatus::Aborted: return "aborted";
    case IoStatus::Unavailable: return "unavailable";
    case IoStatus::DeviceStatus: return "device status";
    }
    return "unknown";
}

const char* io_op_name(IoOp op) {
    switch (op) {
    case IoOp::Read: return "read";
    case IoOp::Write: return "write";
    case IoOp::Flush: return "flush";
    case IoOp::WriteZeroes: return "write zeroes";
    case IoOp::Deallocate: return "deallocate";
    }
    return "unknown";
}

}  // namespace nvmfd::plugin
