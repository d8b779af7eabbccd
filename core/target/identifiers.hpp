// Namespace identifiers (UUID, NGUID): generated once when a namespace is
// created and kept in the state file, so hosts see the same identity across
// restarts (multipath depends on it).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace nvmfd::target {

using Uuid = std::array<uint8_t, 16>;
using Nguid = std::array<uint8_t, 16>;

Uuid generate_uuid();    // RFC 4122 version 4
Nguid generate_nguid();  // random, IEEE OUI-less (locally assigned) form
std::string format_uuid(const Uuid& u);
std::optional<Uuid> parse_uuid(std::string_view s);
std::string format_hex(const std::array<uint8_t, 16>& v);
std::optional<std::array<uint8_t, 16>> parse_hex16(std::string_view s);

}  // namespace nvmfd::target
