// Control-plane errors as D-Bus errors: org.nvmfd.Error.<Code> with the
// error's message (prefixed by the offending field) as the text, so that
// nvmfctl, busctl and any other client show what to fix.
#pragma once

#include <sdbus-c++/Error.h>

#include "core/runtime/error.hpp"

namespace nvmfd::dbus {

std::string error_name(ErrorCode code);
sdbus::Error to_dbus_error(const Error& e);

// The value of a successful result; throws the D-Bus error otherwise
// (sdbus-c++ turns a thrown sdbus::Error into the method's error reply).
template <typename T>
T value_or_throw(Result<T> r) {
    if (!r) throw to_dbus_error(r.error());
    if constexpr (!std::is_void_v<T>) return std::move(*r);
}

}  // namespace nvmfd::dbus
