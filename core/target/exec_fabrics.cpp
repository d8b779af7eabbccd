// Fabrics commands: Connect (admin and I/O queues), Property Get/Set,
// Disconnect. Connect failures carry the offset of the bad field in DW0 so
// that the host's log names it.
#include <cstring>

#include "core/proto/fabrics.hpp"
#include "core/runtime/log.hpp"
#include "core/target/exec.hpp"
#include "core/target/nqn.hpp"
#include "core/target/queue_pair.hpp"
#include "core/target/target.hpp"

namespace nvmfd::target {

using plugin::Request;
using proto::ConnectCommand;
using proto::ConnectData;
using proto::Status;
namespace status = proto::status;

namespace {

void connect_failed(Request& req, Status st, uint32_t dw0, uint16_t error_location) {
    req.cqe.dw0 = dw0;
    QueuePair::of(req).complete_error(req, st, error_location);
}

void reject_sqe_field(Request& req, size_t offset) {
    connect_failed(req, status::kConnectInvalidParameters, proto::connect_invalid_sqe_field(offset),
                   static_cast<uint16_t>(offset));
}

void reject_data_field(Request& req, Status st, size_t offset) {
    connect_failed(req, st, proto::connect_invalid_data_field(offset), offsetof(proto::Sqe, sgl));
}

void connect_admin_queue(QueuePair& qp, Request& req, const ConnectCommand& c, const ConnectData& d,
                         const std::string& subnqn, const std::string& hostnqn) {
    Target& target = qp.target();
    if (d.cntlid != proto::kDynamicControllerId) {
        // Only the dynamic controller model is offered.
        reject_data_field(req, status::kConnectInvalidParameters, offsetof(ConnectData, cntlid));
        return;
    }
    bool discovery = subnqn == proto::kDiscoveryNqn;
    const TargetSnapshot& snap = qp.snapshot();
    const Port* port = snap.find_port(qp.port_id());
    if (!discovery) {
        const Subsystem* sub = snap.find_subsystem(subnqn);
        if (!sub || !port || !port->exposes(subnqn)) {
            log::notice("connect from {} ({}) to unknown subsystem '{}' on port {} refused", hostnqn,
                        qp.peer_address(), subnqn, qp.port_id());
            reject_data_field(req, status::kConnectInvalidParameters, offsetof(ConnectData, subnqn));
            return;
        }
        if (!sub->host_allowed(hostnqn)) {
            log::notice("connect from host {} ({}) to {} refused: host not allowed", hostnqn, qp.peer_address(),
                        subnqn);
            reject_data_field(req, status::kConnectInvalidHost, offsetof(ConnectData, hostnqn));
            return;
        }
    }
    uint32_t kato = c.kato;
    if (discovery && kato == 0) kato = target.options().discovery_kato_ms;
    if (kato > target.options().max_kato_ms) kato = target.options().max_kato_ms;

    uint16_t cntlid = target.controllers().reserve_id(subnqn);
    if (cntlid == 0) {
        connect_failed(req, status::kConnectControllerBusy, 0, 0xffff);
        return;
    }
    ControllerIdentity id;
    id.cntlid = cntlid;
    id.subnqn = subnqn;
    id.hostnqn = hostnqn;
    std::memcpy(id.hostid.data(), d.hostid, sizeof d.hostid);
    id.port_id = qp.port_id();
    id.discovery = discovery;
    auto ctrl = std::make_shared<Controller>(target, std::move(id), qp, kato);
    target.controllers().add(ctrl);
    uint32_t depth = uint32_t(c.sqsize) + 1;
    if (!qp.transport().install_queue(0, depth)) {
        connect_failed(req, status::kInternalError, 0, 0xffff);
        return;
    }
    qp.bind(ctrl, 0, depth);
    qp.transport().set_sq_flow_control_disabled(c.cattr & proto::kConnectAttrDisableSqFlowControl);
    ctrl->start_keep_alive();
    log::info("host {} ({}) connected to {} as controller {} (kato {} ms)", hostnqn, qp.peer_address(), subnqn,
              cntlid, kato);
    req.cqe.dw0 = cntlid;
    qp.complete(req, status::kSuccess);
    target.controller_changed(ctrl->info(), true);
}

void connect_io_queue(QueuePair& qp, Request& req, const ConnectCommand& c, const ConnectData& d,
                      const std::string& subnqn, const std::string& hostnqn) {
    auto ctrl = qp.target().controllers().find(subnqn, d.cntlid);
    if (!ctrl || ctrl->is_discovery()) {
        reject_data_field(req, status::kConnectInvalidParameters, offsetof(ConnectData, cntlid));
        return;
    }
    if (ctrl->identity().hostnqn != hostnqn) {
        reject_data_field(req, status::kConnectInvalidParameters, offsetof(ConnectData, hostnqn));
        return;
    }
    if (!ctrl->ready()) {
        qp.complete_error(req, status::kCommandSequenceError, offsetof(ConnectCommand, qid));
        return;
    }
    if (c.qid > ctrl->granted_io_queues() || !ctrl->attach_io_queue(c.qid, qp)) {
        reject_sqe_field(req, offsetof(ConnectCommand, qid));
        return;
    }
    uint32_t depth = uint32_t(c.sqsize) + 1;
    if (!qp.transport().install_queue(c.qid, depth)) {
        ctrl->detach_io_queue(c.qid, qp);
        connect_failed(req, status::kInternalError, 0, 0xffff);
        return;
    }
    qp.bind(ctrl, c.qid, depth);
    qp.transport().set_sq_flow_control_disabled(c.cattr & proto::kConnectAttrDisableSqFlowControl);
    log::debug("controller {} of {}: I/O queue {} connected (depth {})", ctrl->cntlid(), subnqn, c.qid, depth);
    req.cqe.dw0 = ctrl->cntlid();
    qp.complete(req, status::kSuccess);
}

void execute_connect(Request& req) {
    QueuePair& qp = QueuePair::of(req);
    ConnectCommand c;
    std::memcpy(&c, &req.sqe, sizeof c);
    ConnectData d;
    copy_from_request(req, &d, sizeof d);

    if (c.recfmt != 0) {
        connect_failed(req, status::kConnectIncompatibleFormat, 0, offsetof(ConnectCommand, recfmt));
        return;
    }
    uint32_t max_size = qp.target().options().max_queue_size;
    if (c.sqsize == 0 || uint32_t(c.sqsize) + 1 > max_size) {
        reject_sqe_field(req, offsetof(ConnectCommand, sqsize));
        return;
    }
    std::string subnqn = field_to_string(d.subnqn, sizeof d.subnqn);
    std::string hostnqn = field_to_string(d.hostnqn, sizeof d.hostnqn);
    if (hostnqn.empty() || hostnqn.size() > kMaxNqnLength) {
        reject_data_field(req, status::kConnectInvalidParameters, offsetof(ConnectData, hostnqn));
        return;
    }
    if (subnqn.empty() || subnqn.size() > kMaxNqnLength) {
        reject_data_field(req, status::kConnectInvalidParameters, offsetof(ConnectData, subnqn));
        return;
    }
    if (c.qid == 0)
        connect_admin_queue(qp, req, c, d, subnqn, hostnqn);
    else
        connect_io_queue(qp, req, c, d, subnqn, hostnqn);
}

void execute_property_get(Request& req) {
    QueuePair& qp = QueuePair::of(req);
    proto::PropertyCommand p;
    std::memcpy(&p, &req.sqe, sizeof p);
    Controller& ctrl = *qp.controller();
    bool eight = (p.attrib & 0x7) == 1;
    uint64_t value = 0;
    switch (p.offset) {
    case proto::property::kCap: value = ctrl.cap(); break;
    case proto::property::kVs: value = proto::nvme_version(1, 3); break;
    case proto::property::kCc: value = ctrl.cc(); break;
    case proto::property::kCsts: value = ctrl.csts(); break;
    default:
        qp.complete_error(req, status::kInvalidField, offsetof(proto::PropertyCommand, offset));
        return;
    }
    // CAP is the only 8-byte property; the others must be read as 4 bytes.
    if (eight != (p.offset == proto::property::kCap)) {
        qp.complete_error(req, status::kInvalidField, offsetof(proto::PropertyCommand, attrib));
        return;
    }
    req.cqe.result64 = value;
    qp.complete(req, status::kSuccess);
}

void execute_property_set(Request& req) {
    QueuePair& qp = QueuePair::of(req);
    proto::PropertyCommand p;
    std::memcpy(&p, &req.sqe, sizeof p);
    if ((p.attrib & 0x7) != 0) {
        qp.complete_error(req, status::kInvalidField, offsetof(proto::PropertyCommand, attrib));
        return;
    }
    if (p.offset != proto::property::kCc) {
        qp.complete_error(req, status::kInvalidField, offsetof(proto::PropertyCommand, offset));
        return;
    }
    qp.controller()->write_cc(static_cast<uint32_t>(p.value));
    qp.complete(req, status::kSuccess);
}

void execute_disconnect(Request& req) {
    QueuePair& qp = QueuePair::of(req);
    qp.complete(req, status::kSuccess);
    qp.transport().close("host disconnected the queue");
}

}  // namespace

Status parse_fabrics_command(QueuePair& qp, Request& req) {
    constexpr size_t kFctypeOffset = 4;
    switch (static_cast<proto::FabricsType>(req.sqe.fctype())) {
    case proto::FabricsType::Connect:
        if (qp.connected()) return fail_at(req, status::kCommandSequenceError, kFctypeOffset);
        set_handler(req, execute_connect, proto::DataDirection::HostToController, sizeof(ConnectData));
        return status::kSuccess;
    case proto::FabricsType::PropertyGet:
    case proto::FabricsType::PropertySet:
        if (!qp.connected()) return fail_at(req, status::kCommandSequenceError, kFctypeOffset);
        if (qp.qid() != 0) return fail_at(req, status::kInvalidOpcode, kFctypeOffset);
        set_handler(req,
                    req.sqe.fctype() == uint8_t(proto::FabricsType::PropertyGet) ? execute_property_get
                                                                                 : execute_property_set,
                    proto::DataDirection::None, 0);
        return status::kSuccess;
    case proto::FabricsType::Disconnect:
        if (!qp.connected()) return fail_at(req, status::kCommandSequenceError, kFctypeOffset);
        set_handler(req, execute_disconnect, proto::DataDirection::None, 0);
        return status::kSuccess;
    default:
        return fail_at(req, status::kInvalidOpcode, kFctypeOffset);
    }
}

}  // namespace nvmfd::target
