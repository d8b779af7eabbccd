// NVMe Qualified Name rules (NVMe base specification, "NVMe Qualified
// Names"): at most 223 bytes of UTF-8, either
//   nqn.yyyy-mm.<reverse domain>[:<anything>]  or
//   nqn.2014-08.org.nvmexpress:uuid:<uuid>
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace nvmfd::target {

inline constexpr size_t kMaxNqnLength = 223;

// Why the NQN is invalid, or nullopt if it is valid.
std::optional<std::string> nqn_problem(std::string_view nqn);
inline bool is_valid_nqn(std::string_view nqn) { return !nqn_problem(nqn); }

// What a host sends in Connect is held to less: hosts in the field use NQNs
// that do not follow the naming rules, and the kernel's nvmet and SPDK accept
// them. It must still fit and be printable UTF-8, because it reaches logs,
// D-Bus and the state of every controller. Empty is the caller's decision.
std::optional<std::string> wire_nqn_problem(std::string_view nqn);

// A fixed-size, possibly unterminated wire field to a string.
std::string field_to_string(const char* field, size_t size);
// Copy into a fixed-size field, NUL padded (NQNs) or space padded (serial, model).
void string_to_field(std::string_view s, char* field, size_t size, char pad);

}  // namespace nvmfd::target
