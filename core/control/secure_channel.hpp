// The names of a port's secure channel setting as admins write them
// (nvmfctl --secure-channel, D-Bus, the state file): none, allowed, required.
#pragma once

#include <optional>
#include <string_view>

#include "core/plugin/transport.hpp"

namespace nvmfd::control {

inline const char* secure_channel_name(plugin::SecureChannel s) {
    switch (s) {
    case plugin::SecureChannel::Allowed: return "allowed";
    case plugin::SecureChannel::Required: return "required";
    default: return "none";
    }
}

inline std::optional<plugin::SecureChannel> parse_secure_channel(std::string_view s) {
    if (s == "none" || s.empty()) return plugin::SecureChannel::None;
    if (s == "allowed") return plugin::SecureChannel::Allowed;
    if (s == "required") return plugin::SecureChannel::Required;
    return std::nullopt;
}

}  // namespace nvmfd::control
