// Command parsing entry points, one per command family, and the helpers
// they share. Each parse_* validates the SQE, decides the data direction and
// length, and picks the handler that execute() will run (req.execute_fn).
#pragma once

#include <cstddef>
#include <optional>
#include <vector>

#include "core/plugin/request.hpp"
#include "core/proto/log_pages.hpp"
#include "core/proto/status.hpp"

namespace nvmfd::target {

class QueuePair;

proto::Status parse_fabrics_command(QueuePair& qp, plugin::Request& req);
proto::Status parse_admin_command(QueuePair& qp, plugin::Request& req);
proto::Status parse_discovery_command(QueuePair& qp, plugin::Request& req);
proto::Status parse_io_command(QueuePair& qp, plugin::Request& req);
// Authentication Send (send) or Receive (exec_auth.cpp).
proto::Status parse_auth_command(QueuePair& qp, plugin::Request& req, bool send);

inline void set_handler(plugin::Request& req, void (*fn)(plugin::Request&), proto::DataDirection dir,
                        uint32_t length) {
    req.execute_fn = fn;
    req.direction = length ? dir : proto::DataDirection::None;
    req.transfer_length = length;
}

// A status with the SQE byte offset of the field that caused it.
inline proto::Status fail_at(plugin::Request& req, proto::Status s, size_t sqe_offset) {
    req.error_location = static_cast<uint16_t>(sqe_offset);
    return s.with_dnr();
}

// Copy `len` bytes of `src` into the request's data buffer (C2H commands).
void copy_to_request(plugin::Request& req, const void* src, size_t len);
// Copy from the request's data buffer (H2C commands) into dst.
void copy_from_request(plugin::Request& req, void* dst, size_t len);
void zero_request_data(plugin::Request& req);

// Handlers shared between admin and discovery controllers.
void execute_identify(plugin::Request& req);
void execute_get_log_page(plugin::Request& req);
void execute_get_features(plugin::Request& req);
void execute_set_features(plugin::Request& req);
void execute_keep_alive(plugin::Request& req);
void execute_async_event_request(plugin::Request& req);
// The admin commands I/O and discovery controllers share; nullopt for others.
std::optional<proto::Status> parse_shared_admin_command(QueuePair& qp, plugin::Request& req);
proto::Status parse_identify(QueuePair& qp, plugin::Request& req);
proto::Status parse_get_log_page(QueuePair& qp, plugin::Request& req);
proto::Status parse_features(QueuePair& qp, plugin::Request& req);

// Log page builders (log_pages.cpp / exec_discovery.cpp) write the whole
// page into `out` (the caller slices by offset and length).
void build_discovery_log(QueuePair& qp, std::vector<uint8_t>& out);
// The most bytes a log page can have right now (its content never exceeds it).
uint64_t largest_log_page(QueuePair& qp, proto::LogPageId id);

}  // namespace nvmfd::target
