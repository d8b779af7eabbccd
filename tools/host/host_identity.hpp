// Who the host says it is in Connect: its NQN and 128-bit host identifier.
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace nvmfd::host {

struct HostIdentity {
    std::string hostnqn;
    std::array<uint8_t, 16> hostid{};
};

// /etc/nvme/hostnqn and /etc/nvme/hostid when present (as nvme-cli uses
// them), otherwise a random UUID-based NQN with that UUID as host id.
HostIdentity default_host_identity();
HostIdentity random_host_identity();
std::string format_uuid(const std::array<uint8_t, 16>& uuid);
bool parse_uuid(const std::string& text, std::array<uint8_t, 16>& uuid);

}  // namespace nvmfd::host
