#include "core/runtime/error.hpp"

namespace nvmfd {

const char* error_code_name(ErrorCode code) {
    switch (code) {
    case ErrorCode::InvalidArgument: return "InvalidArgument";
    case ErrorCode::NotFound: return "NotFound";
    case ErrorCode::AlreadyExists: return "AlreadyExists";
    case ErrorCode::Busy: return "Busy";
    case ErrorCode::PermissionDenied: return "PermissionDenied";
    case ErrorCode::NotSupported: return "NotSupported";
    case ErrorCode::Io: return "Io";
    case ErrorCode::PluginError: return "PluginError";
    case ErrorCode::Internal: return "Internal";
    }
    return "Internal";
}

}  // namespace nvmfd
