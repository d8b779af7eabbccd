#include "plugins/transport_rdma/rdma_options.hpp"

#include <bit>

namespace nvmfd::plugins::rdma {

Result<RdmaOptions> parse_rdma_options(const plugin::Params& params) {
    RdmaOptions o;
    for (const auto& [key, value] : params) {
        if (key == "connect_timeout_ms") {
            auto ms = plugin::parse_uint(value, key);
            if (!ms) return nvmfd::unexpected(ms.error());
            if (*ms < 100 || *ms > 3600 * 1000)
                return make_error(ErrorCode::InvalidArgument, "must be between 100 and 3600000 (milliseconds)", key);
            o.connect_timeout = std::chrono::milliseconds(*ms);
            continue;
        }
        if (key == "send_with_invalidate" || key == "register_backend_memory") {
            auto on = plugin::parse_bool(value, key);
            if (!on) return nvmfd::unexpected(on.error());
            (key == "send_with_invalidate" ? o.send_with_invalidate : o.register_backend_memory) = *on;
            continue;
        }
        auto n = plugin::parse_size(value, key);
        if (!n) return nvmfd::unexpected(n.error());
        if (key == "in_capsule_data_size") {
            // Every receive buffer of every queue carries this much: the
            // kernel's nvmet-rdma stops at 16K for the same reason.
            if (*n > 16u << 10 || *n % 16)
                return make_error(ErrorCode::InvalidArgument, "must be a multiple of 16 and at most 16K", key);
            o.in_capsule_data_size = static_cast<uint32_t>(*n);
        } else if (key == "max_data_transfer") {
            if (*n < 4096 || *n > 8u << 20 || !std::has_single_bit(*n))
                return make_error(ErrorCode::InvalidArgument, "must be a power of two between 4K and 8M", key);
            o.max_data_transfer = static_cast<uint32_t>(*n);
        } else if (key == "max_queue_depth") {
            if (*n < 2 || *n > 1024)
                return make_error(ErrorCode::InvalidArgument, "must be between 2 and 1024", key);
            o.max_queue_depth = static_cast<uint32_t>(*n);
        } else if (key == "max_read_depth") {
            if (*n < 1 || *n > 128)
                return make_error(ErrorCode::InvalidArgument, "must be between 1 and 128", key);
            o.max_read_depth = static_cast<uint32_t>(*n);
        } else if (key == "srq_depth") {
            if (*n < 64 || *n > 65536)
                return make_error(ErrorCode::InvalidArgument, "must be between 64 and 65536", key);
            o.srq_depth = static_cast<uint32_t>(*n);
        } else if (key == "listen_backlog") {
            if (*n == 0 || *n > 65535)
                return make_error(ErrorCode::InvalidArgument, "must be between 1 and 65535", key);
            o.listen_backlog = static_cast<int>(*n);
        } else {
            return make_error(ErrorCode::InvalidArgument,
                              "unknown rdma transport setting (known: in_capsule_data_size, max_data_transfer, "
                              "max_queue_depth, max_read_depth, srq_depth, listen_backlog, connect_timeout_ms, "
                              "send_with_invalidate, register_backend_memory)",
                              key);
        }
    }
    return o;
}

}  // namespace nvmfd::plugins::rdma
