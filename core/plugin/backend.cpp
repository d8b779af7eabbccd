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
    }
    return "unknown";
}

}  // namespace nvmfd::plugin
