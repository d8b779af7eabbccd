// Which TLS PSK a client's PSK identity stands for: the core's side of the
// transport's PSK lookup (plugin::TransportEnv::tls_psk). The identity
// names the host and the subsystem; the host's configured key on that
// subsystem, turned into the TLS PSK by core/auth/tls_psk, is the answer.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/plugin/transport.hpp"
#include "core/runtime/error.hpp"
#include "core/target/snapshot.hpp"

namespace nvmfd::target {

// The host's configured TLS PSK (interchange text) on a subsystem, if any
// (`nvmfctl host allow|set-key ... --tls-psk`, kept in the secrets file).
std::optional<std::string> host_tls_key(const Subsystem& sub, const std::string& hostnqn);

// The TLS PSK for `identity` on port `port_id` (with the other
// derivations the host may hold, auth::tls_psk_candidates), or why there is
// none (a message for the log: it never holds key material). A retained PSK
// belongs to a host, not to a subsystem (it is derived from the host NQN
// only): an identity naming the discovery NQN uses the host's key from any
// subsystem the port exposes.
Result<plugin::TlsPsk> find_tls_psk(const TargetSnapshot& snap, uint16_t port_id, std::string_view identity);

}  // namespace nvmfd::target
