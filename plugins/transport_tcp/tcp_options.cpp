#include "plugins/transport_tcp/tcp_options.hpp"

#include <bit>

namespace nvmfd::plugins::tcp {

Result<TcpOptions> parse_tcp_options(const plugin::Params& params) {
    TcpOptions o;
    for (const auto& [key, value] : params) {
        auto size = plugin::parse_size(value, key);
        if (!size) return std::unexpected(size.error());
        if (key == "in_capsule_data_size") {
            if (*size > 1u << 20 || *size % 16)
                return make_error(ErrorCode::InvalidArgument, "must be a multiple of 16 and at most 1M", key);
            o.in_capsule_data_size = static_cast<uint32_t>(*size);
        } else if (key == "max_h2c_data") {
            if (*size < 4096 || *size > 16u << 20)
                return make_error(ErrorCode::InvalidArgument, "must be between 4K and 16M", key);
            o.max_h2c_data = static_cast<uint32_t>(*size);
        } else if (key == "max_data_transfer") {
            if (*size < 4096 || *size > 8u << 20 || !std::has_single_bit(*size))
                return make_error(ErrorCode::InvalidArgument, "must be a power of two between 4K and 8M", key);
            o.max_data_transfer = static_cast<uint32_t>(*size);
        } else if (key == "rx_buffer_size") {
            if (*size < 16384 || *size > 16u << 20)
                return make_error(ErrorCode::InvalidArgument, "must be between 16K and 16M", key);
            o.rx_buffer_size = static_cast<uint32_t>(*size);
        } else if (key == "listen_backlog") {
            if (*size == 0 || *size > 65535)
                return make_error(ErrorCode::InvalidArgument, "must be between 1 and 65535", key);
            o.listen_backlog = static_cast<int>(*size);
        } else {
            return make_error(ErrorCode::InvalidArgument,
                              "unknown tcp transport setting (known: in_capsule_data_size, max_h2c_data, "
                              "max_data_transfer, rx_buffer_size, listen_backlog)",
                              key);
        }
    }
    return o;
}

}  // namespace nvmfd::plugins::tcp
