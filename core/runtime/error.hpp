// The error type shared by plugins, the target model and the control plane:
// what went wrong (a code an API can map, e.g. to a D-Bus error name), a
// message a human can act on, and the offending field when there is one.
// This is never what a host sees; hosts get proto::Status values.
#pragma once

#include "core/runtime/expected.hpp"
#include <string>

#include <fmt/format.h>

namespace nvmfd {

enum class ErrorCode {
    InvalidArgument,
    NotFound,
    AlreadyExists,
    Busy,
    PermissionDenied,
    NotSupported,
    Io,
    PluginError,
    Internal,
};

const char* error_code_name(ErrorCode code);

struct Error {
    ErrorCode code = ErrorCode::Internal;
    std::string message;
    std::string field;  // e.g. "nqn", "namespaces[0].size"; empty when not about one field

    std::string describe() const {
        return field.empty() ? message : fmt::format("{}: {}", field, message);
    }
};

template <typename T>
using Result = nvmfd::expected<T, Error>;

inline nvmfd::unexpected<Error> make_error(ErrorCode code, std::string message, std::string field = {}) {
    return nvmfd::unexpected(Error{code, std::move(message), std::move(field)});
}

}  // namespace nvmfd
