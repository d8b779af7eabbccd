// The host's side of DH-HMAC-CHAP (NVMe Base 2.x, 8.3.4.5) for the tools'
// initiator: one authentication transaction on a connected queue, as the
// Linux host runs it after a Connect response with AUTHREQ.ATR. Tests use
// it against nvmfd; the kernel host in the interop stage is the
// independent check of both sides.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tools/host/queue.hpp"

namespace nvmfd::host {

struct DhchapCredentials {
    std::string secret;       // DHHC-1:NN:...: the host's
    std::string ctrl_secret;  // empty: unidirectional
    std::vector<uint8_t> hashes{1, 2, 3};            // offered, in this order
    std::vector<uint8_t> groups{0, 1, 2, 3, 4, 5};   // offered DH groups
};

// What a transaction chose; throws Error (or StatusError) when the
// controller refuses the host, or the host refuses the controller.
struct DhchapResult {
    uint8_t hash = 0;
    uint8_t group = 0;
    bool bidirectional = false;
};
DhchapResult authenticate(Queue& queue, const std::string& hostnqn, const std::string& subnqn,
                          const DhchapCredentials& credentials);

// The raw commands, for tests that break the protocol on purpose.
Completion auth_send(Queue& queue, const std::vector<uint8_t>& message);
Completion auth_receive(Queue& queue, std::vector<uint8_t>& message, uint32_t allocation_length = 4096);

}  // namespace nvmfd::host
