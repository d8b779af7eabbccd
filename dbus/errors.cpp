#include "dbus/errors.hpp"

#include "dbus/names.hpp"

namespace nvmfd::dbus {

std::string error_name(ErrorCode code) { return std::string(kErrorPrefix) + error_code_name(code); }

sdbus::Error to_dbus_error(const Error& e) { return sdbus::Error(error_name(e.code), e.describe()); }

}  // namespace nvmfd::dbus
