// A DH-HMAC-CHAP secret as nvme-cli writes it (`DHHC-1:NN:<base64>:`) and
// its transformation: with NN = 0 the key is used as it is, otherwise as
// HMAC-NN(key, NQN || "NVMe-over-Fabrics") (NVMe Base 2.x, 8.3.4.5.7). The
// host's secret is transformed with the host NQN, the controller's with
// the subsystem NQN, as the Linux host and target both do.
#pragma once

#include <string>
#include <string_view>

#include "core/auth/crypto.hpp"
#include "core/runtime/error.hpp"

namespace nvmfd::auth {

struct DhchapSecret {
    uint8_t transform = 0;  // NN
    Bytes key;

    // `field` names the setting, e.g. "dhchap-secret", for the error.
    static Result<DhchapSecret> parse(std::string_view text, std::string_view field);
    Bytes transformed(std::string_view nqn) const;
};

}  // namespace nvmfd::auth
