// A host's authentication settings on a subsystem, as the data path sees
// them in a snapshot: parsed secrets, allowed choices, and whether the host
// can be admitted at all.
#pragma once

#include <string>

#include "core/auth/dhchap_transaction.hpp"

namespace nvmfd::target {

struct HostAuth {
    bool dhchap = false;  // the host must authenticate (it has a DH-HMAC-CHAP secret)
    // Non-empty: a secret the configuration names cannot be used (missing
    // from the secrets file); the host is refused rather than let in without.
    std::string problem;
    auth::DhchapSettings dhchap_settings;
    std::string tls_psk;  // NVMeTLSkey-1 text; empty = none
};

}  // namespace nvmfd::target
