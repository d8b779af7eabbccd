// The PSK binder of a TLS 1.3 ClientHello (RFC 8446 4.2.11.2), so that a
// server holding several candidate PSKs for one identity (derivations of
// older host tools, plugin::TlsPsk::alternatives) can tell which one the
// client has before OpenSSL checks the binder with the one it is given.
// Nothing here is trusted: OpenSSL still verifies the binder and the whole
// handshake with the PSK picked.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace nvmfd::plugins::tcp {

struct ClientHelloBinder {
    std::vector<uint8_t> binder;     // the client's binder for the identity
    std::vector<uint8_t> truncated;  // the ClientHello up to the binders list (what the binder covers)
};

// Find `identity` in a ClientHello handshake message (with its 4-byte
// header) and its binder; nullopt if the message is malformed or has no
// such identity.
std::optional<ClientHelloBinder> find_psk_binder(std::span<const uint8_t> client_hello, std::string_view identity);

// Whether `psk` (an external PSK for TLS_AES_128_GCM_SHA256, or
// TLS_AES_256_GCM_SHA384 when sha384) gives the client's binder.
bool binder_matches(std::span<const uint8_t> psk, bool sha384, const ClientHelloBinder& b);

}  // namespace nvmfd::plugins::tcp
