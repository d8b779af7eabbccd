#include "plugins/transport_tcp/tcp_options.hpp"

#include <bit>

namespace nvmfd::plugins::tcp {

namespace {

// A timeout in milliseconds, 100 ms to one hour.
Result<std::chrono::milliseconds> parse_timeout_ms(std::string_view value, std::string_view key) {
    auto ms = plugin::parse_uint(value, key);
    if (!ms) return nvmfd::unexpected(ms.error());
    if (*ms < 100 || *ms > 3600 * 1000)
        return make_error(ErrorCode::InvalidArgument, "must be between 100 and 3600000 (milliseconds)",
                          std::string(key));
    return std::chrono::milliseconds(*ms);
}

}  // namespace

Result<TcpOptions> parse_tcp_options(const plugin::Params& params) {
    TcpOptions o;
    for (const auto& [key, value] : params) {
        if (key == "connect_timeout_ms" || key == "pdu_stall_timeout_ms") {
            auto ms = parse_timeout_ms(value, key);
            if (!ms) return nvmfd::unexpected(ms.error());
            (key == "connect_timeout_ms" ? o.connect_timeout : o.pdu_stall_timeout) = *ms;
            continue;
        }
        auto size = plugin::parse_size(value, key);
        if (!size) return nvmfd::unexpected(size.error());
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
        } else if (key == "max_connection_buffer") {
            if (*size < 1u << 20 || *size > uint64_t(64) << 30)
                return make_error(ErrorCode::InvalidArgument, "must be between 1M and 64G", key);
            o.max_connection_buffer = *size;
        } else {
            return make_error(ErrorCode::InvalidArgument,
                              "unknown tcp transport setting (known: in_capsule_data_size, max_h2c_data, "
                              "max_data_transfer, rx_buffer_size, listen_backlog, max_connection_buffer, "
                              "connect_timeout_ms, pdu_stall_timeout_ms)",
                              key);
        }
    }
    return o;
}

}  // namespace nvmfd::plugins::tcp
