// The names of the data paths, as the state file, D-Bus, Lua and nvmfctl spell them.
#pragma once

#include <optional>
#include <string_view>

#include "core/control/export_spec.hpp"

namespace nvmfd::control {

inline const char* data_path_name(DataPath p) { return p == DataPath::Kernel ? "kernel" : "nvmfd"; }

inline std::optional<DataPath> parse_data_path(std::string_view s) {
    if (s == "nvmfd") return DataPath::Nvmfd;
    if (s == "kernel") return DataPath::Kernel;
    return std::nullopt;
}

}  // namespace nvmfd::control
