// Plugin parameters: string key/value pairs as they come from the config
// file, the state file, D-Bus or Lua. Plugins parse and validate their own
// keys and report the offending key as the error's field.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "core/runtime/error.hpp"

namespace nvmfd::plugin {

using Params = std::map<std::string, std::string, std::less<>>;

// "4096", "64K", "1G", "2T" (binary multiples) to bytes.
Result<uint64_t> parse_size(std::string_view text, std::string_view field);
Result<uint64_t> parse_uint(std::string_view text, std::string_view field);
Result<bool> parse_bool(std::string_view text, std::string_view field);

std::optional<std::string_view> find_param(const Params& p, std::string_view key);

}  // namespace nvmfd::plugin
