// The names a D-Bus client of nvmfd needs: the bus name, the object paths
// and the error name prefix. Shared by the daemon's service and nvmfctl so
// that both spell them the same way; documented in docs/dbus-api.md.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace nvmfd::dbus {

inline constexpr const char* kDefaultServiceName = "org.nvmfd";
inline constexpr const char* kRootPath = "/org/nvmfd";
inline constexpr const char* kSubsystemPathPrefix = "/org/nvmfd/subsystem";
inline constexpr const char* kPortPathPrefix = "/org/nvmfd/port";
inline constexpr const char* kControllerPathPrefix = "/org/nvmfd/controller";
inline constexpr const char* kErrorPrefix = "org.nvmfd.Error.";

inline constexpr const char* kManagerInterface = "org.nvmfd.Manager1";
inline constexpr const char* kSubsystemInterface = "org.nvmfd.Subsystem1";
inline constexpr const char* kNamespaceInterface = "org.nvmfd.Namespace1";
inline constexpr const char* kPortInterface = "org.nvmfd.Port1";
inline constexpr const char* kControllerInterface = "org.nvmfd.Controller1";

// NQNs contain characters an object path may not ('.', ':', '-'); they are
// escaped as sd_bus_path_encode does ("_" + two hex digits), so that
// "nqn.2026-11.io.nvmfd:db1" becomes "nqn_2e2026_2d11_2eio_2envmfd_3adb1".
std::string subsystem_path(std::string_view nqn);
std::string namespace_path(std::string_view nqn, uint32_t nsid);
std::string port_path(uint16_t id);
std::string controller_path(std::string_view subnqn, uint16_t cntlid);

}  // namespace nvmfd::dbus
