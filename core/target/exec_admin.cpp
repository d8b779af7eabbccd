// Admin commands of an I/O controller: dispatch, and the small handlers
// (Keep Alive, Asynchronous Event Request, Abort). Identify, log pages and
// features live in their own files.
#include <optional>

#include "core/target/exec.hpp"
#include "core/target/queue_pair.hpp"

namespace nvmfd::target {

using plugin::Request;
using proto::AdminOpcode;
using proto::Status;
namespace status = proto::status;

void execute_keep_alive(Request& req) { QueuePair::of(req).complete(req, status::kSuccess); }

void execute_async_event_request(Request& req) {
    QueuePair& qp = QueuePair::of(req);
    // Parked until an event arrives; completed with an abort status on teardown.
    if (!qp.controller()->park_aer(req)) qp.complete_error(req, status::kAsyncEventLimitExceeded, 0);
}

namespace {

void execute_abort(Request& req) {
    // Commands run to completion on their reactor and are never held back, so
    // there is nothing to abort: DW0 bit 0 set means "not aborted".
    req.cqe.dw0 = 1;
    QueuePair::of(req).complete(req, status::kSuccess);
}

}  // namespace

std::optional<Status> parse_shared_admin_command(QueuePair& qp, Request& req) {
    switch (static_cast<AdminOpcode>(req.sqe.opcode)) {
    case AdminOpcode::Identify: return parse_identify(qp, req);
    case AdminOpcode::GetLogPage: return parse_get_log_page(qp, req);
    case AdminOpcode::GetFeatures:
    case AdminOpcode::SetFeatures: return parse_features(qp, req);
    case AdminOpcode::KeepAlive:
        set_handler(req, execute_keep_alive, proto::DataDirection::None, 0);
        return status::kSuccess;
    case AdminOpcode::AsyncEventRequest:
        set_handler(req, execute_async_event_request, proto::DataDirection::None, 0);
        return status::kSuccess;
    default:
        return std::nullopt;
    }
}

Status parse_admin_command(QueuePair& qp, Request& req) {
    // Until the host enabled the controller only fabrics commands are allowed.
    if (!qp.controller()->ready()) return fail_at(req, status::kCommandSequenceError, 0);
    if (auto shared = parse_shared_admin_command(qp, req)) return *shared;
    if (static_cast<AdminOpcode>(req.sqe.opcode) == AdminOpcode::Abort) {
        set_handler(req, execute_abort, proto::DataDirection::None, 0);
        return status::kSuccess;
    }
    return fail_at(req, status::kInvalidOpcode, 0);
}

}  // namespace nvmfd::target
