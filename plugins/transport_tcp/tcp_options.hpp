// Settings of the NVMe/TCP transport, from the daemon config's
// [transport.tcp] section (plugin parameters).
#pragma once

#include <cstdint>

#include "core/plugin/params.hpp"

namespace nvmfd::plugins::tcp {

struct TcpOptions {
    uint32_t in_capsule_data_size = 8192;  // write data that may ride in the command capsule
    uint32_t max_h2c_data = 128 * 1024;    // MAXH2CDATA: largest H2CData PDU the host may send
    uint32_t max_data_transfer = 1u << 20; // MDTS in bytes
    uint32_t rx_buffer_size = 128 * 1024;  // per-connection receive buffer
    int listen_backlog = 128;
};

Result<TcpOptions> parse_tcp_options(const plugin::Params& params);

}  // namespace nvmfd::plugins::tcp
