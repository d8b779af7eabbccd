// ICReq and an admin-queue Connect on a raw connection, as a host that
// then goes off-script would send them.
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "core/proto/status.hpp"
#include "tools/host/raw_connection.hpp"

namespace nvmfd::attack {

struct RawAdmin {
    proto::Status status;           // of the Connect
    host::TransportParams params;   // what ICResp granted
};

// Throws host::Error when the connection fails or the answer is not a CapsuleResp.
RawAdmin raw_admin_connect(host::RawConnection& raw, const std::string& subnqn, const std::string& hostnqn,
                           const std::array<uint8_t, 16>& hostid = {0xa7});

}  // namespace nvmfd::attack
