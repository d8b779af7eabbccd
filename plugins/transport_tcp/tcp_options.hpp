// Settings of the NVMe/TCP transport, from the daemon config's
// [transport.tcp] section (plugin parameters). docs/limits.md lists them.
#pragma once

#include <chrono>
#include <cstdint>

#include "core/plugin/params.hpp"

namespace nvmfd::plugins::tcp {

struct TcpOptions {
    uint32_t in_capsule_data_size = 8192;  // write data that may ride in the command capsule
    uint32_t max_h2c_data = 128 * 1024;    // MAXH2CDATA: largest H2CData PDU the host may send
    uint32_t max_data_transfer = 1u << 20; // MDTS in bytes
    uint32_t rx_buffer_size = 128 * 1024;  // per-connection receive buffer
    int listen_backlog = 128;
    // Pool bytes one connection's busy commands may hold (write data, read
    // data not yet sent) before new commands wait for budget: QD 32 x 256 KiB.
    uint64_t max_connection_buffer = 8u << 20;
    // ICReq and Connect must be done this long after the TCP accept.
    std::chrono::milliseconds connect_timeout{30000};
    // A PDU that has begun must be complete within this long.
    std::chrono::milliseconds pdu_stall_timeout{30000};
};

Result<TcpOptions> parse_tcp_options(const plugin::Params& params);

}  // namespace nvmfd::plugins::tcp
