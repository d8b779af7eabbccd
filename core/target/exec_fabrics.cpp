// Fabrics commands: Connect (admin and I/O queues), Property Get/Set,
// Disconnect. Connect failures carry the offset of the bad field in DW0 so
// that the host's log names it.
#include <cstring>
#include <optional>
#include <string_view>

#include "core/auth/tls_psk.hpp"
#include "core/proto/auth.hpp"
#include "core/proto/fabrics.hpp"
#include "core/runtime/log.hpp"
#include "core/runtime/untrusted_text.hpp"
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

// A Connect field a refusal can name: where it is (SQE or Connect data), and
// the name the specification gives it, for the admin's log line.
struct ConnectField {
    const char* name;
    bool in_data;
    uint16_t offset;
};
constexpr ConnectField kRecfmt{"RECFMT", false, offsetof(ConnectCommand, recfmt)};
constexpr ConnectField kQid{"QID", false, offsetof(ConnectCommand, qid)};
constexpr ConnectField kSqsize{"SQSIZE", false, offsetof(ConnectCommand, sqsize)};
constexpr ConnectField kCntlid{"CNTLID", true, offsetof(ConnectData, cntlid)};
constexpr ConnectField kSubnqn{"SUBNQN", true, offsetof(ConnectData, subnqn)};
constexpr ConnectField kHostnqn{"HOSTNQN", true, offsetof(ConnectData, hostnqn)};

// One Connect being handled: what it asked for, for the log lines.
struct ConnectAttempt {
    QueuePair& qp;
    Request& req;
    const ConnectCommand& cmd;
    const ConnectData& data;
    const std::string& subnqn;
    const std::string& hostnqn;
};

// A Connect's command and data, read from its request slot (again when a
// parked Connect resumes: the slot keeps both until it completes).
struct ParsedConnect {
    ConnectCommand cmd;
    ConnectData data;
    std::string subnqn;
    std::string hostnqn;
};

void parse_connect(Request& req, ParsedConnect& p) {
    std::memcpy(&p.cmd, &req.sqe, sizeof p.cmd);
    copy_from_request(req, &p.data, sizeof p.data);
    p.subnqn = field_to_string(p.data.subnqn, sizeof p.data.subnqn);
    p.hostnqn = field_to_string(p.data.hostnqn, sizeof p.data.hostnqn);
}

std::string uuid_text(const uint8_t (&id)[16]) {
    return fmt::format("{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
                       id[0], id[1], id[2], id[3], id[4], id[5], id[6], id[7], id[8], id[9], id[10], id[11], id[12],
                       id[13], id[14], id[15]);
}

// Every refused Connect goes through here: the host gets the status and,
// for Invalid Parameters and Invalid Host, the offset of the bad field
// (IATTR/IPO in DW0); the admin gets a notice naming the host, its address,
// the subsystem, the status and the field, and for an admin queue the
// management plane hears of it (D-Bus HostRefused).
// Whether the host may try the same Connect again (no DNR): only where an
// admin's next step can make it succeed without the host changing anything.
enum class Retry { No, Later };

void refuse(const ConnectAttempt& a, Status st, const ConnectField* field, std::string_view reason,
            Retry retry = Retry::No) {
    log::notice("connect refused: host '{}' ({}) to '{}' queue {} on port {}: {} ({}{}{})", a.hostnqn,
                a.qp.peer_address(), a.subnqn, a.cmd.qid, a.qp.port_id(), reason, proto::status_name(st),
                field ? ", field " : "", field ? field->name : "");
    if (a.cmd.qid == 0)
        a.qp.target().connect_refused(ConnectRefusal{runtime::escape_untrusted(a.hostnqn),
                                                     runtime::escape_untrusted(a.subnqn), a.qp.port_id(),
                                                     a.qp.peer_address(), runtime::escape_untrusted(reason)});
    bool has_ipo = st == status::kConnectInvalidParameters || st == status::kConnectInvalidHost;
    uint32_t dw0 = 0;
    uint16_t location = 0xffff;
    if (field) {
        if (has_ipo)
            dw0 = field->in_data ? proto::connect_invalid_data_field(field->offset)
                                 : proto::connect_invalid_sqe_field(field->offset);
        location = field->in_data ? uint16_t(offsetof(proto::Sqe, sgl)) : field->offset;
    }
    a.req.cqe.dw0 = dw0;
    if (retry == Retry::Later) {
        a.req.error_location = location;
        a.qp.complete(a.req, st);
        return;
    }
    a.qp.complete_error(a.req, st, location);
}

// The checks of an admin Connect that need only the model: the subsystem,
// its port, the allow-list, the queue size. Refuses and returns false on
// the first that fails.
bool admin_connect_permitted(const ConnectAttempt& a, bool discovery) {
    QueuePair& qp = a.qp;
    if (a.data.cntlid != proto::kDynamicControllerId) {
        refuse(a, status::kConnectInvalidParameters, &kCntlid, "only dynamic controllers (CNTLID 0xFFFF) are offered");
        return false;
    }
    const TargetSnapshot& snap = qp.snapshot();
    const Port* port = snap.find_port(qp.port_id());
    if (!discovery) {
        const Subsystem* sub = snap.find_subsystem(a.subnqn);
        if (!sub) {
            refuse(a, status::kConnectInvalidParameters, &kSubnqn, "no such subsystem");
            return false;
        }
        // A port that is being set up (added, then linked: two calls) or a
        // link removed for a moment: the Linux host drops a path for good on
        // a Connect error with DNR, so this one leaves the host free to retry.
        if (!port || !port->exposes(a.subnqn)) {
            refuse(a, status::kConnectInvalidParameters, &kSubnqn, "the subsystem is not exported through this port",
                   Retry::Later);
            return false;
        }
        if (!sub->host_allowed(a.hostnqn)) {
            refuse(a, status::kConnectInvalidHost, &kHostnqn,
                   a.hostnqn.empty() ? "an empty host NQN is allowed only on subsystems open to any host"
                                     : "the host is not allowed on the subsystem");
            return false;
        }
        if (const HostAuth* ha = sub->auth_for(a.hostnqn); ha && !ha->problem.empty()) {
            refuse(a, status::kConnectInvalidHost, &kHostnqn, ha->problem);
            return false;
        }
    }
    uint32_t depth = uint32_t(a.cmd.sqsize) + 1;
    if (discovery && depth > qp.target().options().max_discovery_queue_size) {
        refuse(a, status::kConnectInvalidParameters, &kSqsize,
               fmt::format("a discovery queue holds at most {} entries (max-discovery-queue-size)",
                           qp.target().options().max_discovery_queue_size));
        return false;
    }
    return true;
}

// Whether the queue must authenticate before anything else (the host has a
// DH-HMAC-CHAP secret on the subsystem); sets the queue up for it: the
// transaction that every Authentication Send/Receive on the queue drives
// (re-authentications included) lives as long as the queue.
bool require_authentication(const ConnectAttempt& a, bool discovery) {
    if (discovery) return false;
    const Subsystem* sub = a.qp.snapshot().find_subsystem(a.subnqn);
    const HostAuth* ha = sub ? sub->auth_for(a.hostnqn) : nullptr;
    if (!ha || !ha->dhchap) return false;
    QueuePair::Authentication& state = a.qp.auth();
    state.required = true;
    state.transaction = std::make_shared<auth::DhchapTransaction>(a.hostnqn, a.subnqn);
    return true;
}

// The Connect was accepted: make the controller under the reserved ID.
void create_controller(const ConnectAttempt& a, uint16_t cntlid, bool discovery) {
    QueuePair& qp = a.qp;
    Target& target = qp.target();
    uint32_t depth = uint32_t(a.cmd.sqsize) + 1;
    uint32_t kato = a.cmd.kato;
    if (discovery && kato == 0) kato = target.options().discovery_kato_ms;
    if (kato > target.options().max_kato_ms) kato = target.options().max_kato_ms;

    ControllerIdentity id;
    id.cntlid = cntlid;
    id.subnqn = a.subnqn;
    id.hostnqn = a.hostnqn;
    std::memcpy(id.hostid.data(), a.data.hostid, sizeof a.data.hostid);
    id.port_id = qp.port_id();
    id.discovery = discovery;
    auto ctrl = std::make_shared<Controller>(target, std::move(id), qp, kato);
    target.controllers().add(ctrl);
    if (!qp.transport().install_queue(0, depth)) {
        refuse(a, status::kInternalError, nullptr, "the transport could not set up the queue");
        return;
    }
    qp.bind(ctrl, 0, depth);
    qp.transport().set_sq_flow_control_disabled(a.cmd.cattr & proto::kConnectAttrDisableSqFlowControl);
    ctrl->start_keep_alive();
    if (a.hostnqn.empty())
        log::warn("host at {} connected to {} with an empty host NQN (SPDK's tools do without hostnqn:); "
                  "it can only use subsystems open to any host",
                  qp.peer_address(), a.subnqn);
    bool authenticate = require_authentication(a, discovery);
    log::info("host {} ({}) connected to {} as controller {} (kato {} ms{})", a.hostnqn, qp.peer_address(), a.subnqn,
              cntlid, kato, authenticate ? ", authentication required" : "");
    a.req.cqe.dw0 = cntlid | (authenticate ? proto::auth::kAuthreqAtr : 0);
    qp.complete(a.req, status::kSuccess);
    target.controller_changed(ctrl->info(), true);
}

// The admission hook answered (or timed out): check the model again (it may
// have changed meanwhile), then admit or refuse.
void resume_admin_connect(const AdmissionWait::Parked& parked, const AdmissionVerdict& verdict, bool timed_out) {
    Request& req = *parked.req;
    QueuePair& qp = QueuePair::of(req);
    ParsedConnect p;
    parse_connect(req, p);
    ConnectAttempt a{qp, req, p.cmd, p.data, p.subnqn, p.hostnqn};
    if (timed_out)
        log::warn("admission of host '{}' ({}) to '{}': no decision within {} ms; the allow-list's decision stands",
                  p.hostnqn, qp.peer_address(), p.subnqn, qp.target().options().admission_timeout.count());
    if (!admin_connect_permitted(a, false)) {
        qp.target().controllers().release_reservation(parked.subnqn, parked.cntlid);
        return;
    }
    if (!verdict.allow) {
        qp.target().controllers().release_reservation(parked.subnqn, parked.cntlid);
        refuse(a, status::kConnectInvalidHost, &kHostnqn,
               fmt::format("denied by policy {}: {}", verdict.policy, verdict.reason));
        return;
    }
    create_controller(a, parked.cntlid, false);
}

void connect_admin_queue(const ConnectAttempt& a) {
    QueuePair& qp = a.qp;
    Target& target = qp.target();
    bool discovery = a.subnqn == proto::kDiscoveryNqn;
    if (!admin_connect_permitted(a, discovery)) return;
    // Gateways exporting one subsystem hand out disjoint controller IDs.
    uint16_t min_cntlid = 1, max_cntlid = ControllerRegistry::kMaxCntlid;
    if (const Subsystem* sub = discovery ? nullptr : qp.snapshot().find_subsystem(a.subnqn)) {
        min_cntlid = sub->min_cntlid;
        max_cntlid = sub->max_cntlid;
    }
    auto reserved = target.controllers().reserve_id(a.subnqn, a.hostnqn, min_cntlid, max_cntlid);
    if (!reserved) {
        refuse(a, status::kConnectControllerBusy, nullptr, reserved.error());
        return;
    }
    // With an admission hook (a policy defines on_host_connect), an I/O
    // subsystem's Connect waits for its answer; the reserved ID counts
    // against the limits meanwhile, which bounds how many can wait.
    if (!discovery) {
        if (auto hook = target.admission_hook()) {
            AdmissionQuery q{a.hostnqn, uuid_text(a.data.hostid), a.subnqn, qp.port_id(), qp.peer_address()};
            qp.admission().park({&a.req, *reserved, a.subnqn, a.hostnqn}, *hook, std::move(q),
                                target.options().admission_timeout, resume_admin_connect);
            return;
        }
    }
    create_controller(a, *reserved, discovery);
}

void connect_io_queue(const ConnectAttempt& a) {
    QueuePair& qp = a.qp;
    const TargetSnapshot& snap = qp.snapshot();
    // As in the kernel's nvmet, a queue reaches a controller only through a
    // port that exports its subsystem, and only for a host still allowed.
    const Port* port = snap.find_port(qp.port_id());
    const Subsystem* sub = snap.find_subsystem(a.subnqn);
    if (!sub || !port || !port->exposes(a.subnqn)) {
        refuse(a, status::kConnectInvalidParameters, &kSubnqn,
               sub ? "the subsystem is not exported through this port" : "no such subsystem");
        return;
    }
    auto ctrl = qp.target().controllers().find(a.subnqn, a.data.cntlid);
    if (!ctrl || ctrl->is_discovery()) {
        refuse(a, status::kConnectInvalidParameters, &kCntlid, "no such controller in the subsystem");
        return;
    }
    if (ctrl->identity().hostnqn != a.hostnqn) {
        refuse(a, status::kConnectInvalidParameters, &kHostnqn, "the controller belongs to another host");
        return;
    }
    if (!sub->host_allowed(a.hostnqn)) {
        refuse(a, status::kConnectInvalidHost, &kHostnqn, "the host is no longer allowed on the subsystem");
        return;
    }
    if (const HostAuth* ha = sub->auth_for(a.hostnqn); ha && !ha->problem.empty()) {
        refuse(a, status::kConnectInvalidHost, &kHostnqn, ha->problem);
        return;
    }
    if (!ctrl->ready()) {
        refuse(a, status::kCommandSequenceError, &kQid, "the controller is not enabled yet (CC.EN)");
        return;
    }
    if (a.cmd.qid > ctrl->granted_io_queues() || !ctrl->attach_io_queue(a.cmd.qid, qp)) {
        refuse(a, status::kConnectInvalidParameters, &kQid,
               fmt::format("queue {} was not granted (Number of Queues: {}) or is connected already", a.cmd.qid,
                           ctrl->granted_io_queues()));
        return;
    }
    uint32_t depth = uint32_t(a.cmd.sqsize) + 1;
    if (!qp.transport().install_queue(a.cmd.qid, depth)) {
        ctrl->detach_io_queue(a.cmd.qid, qp);
        refuse(a, status::kInternalError, nullptr, "the transport could not set up the queue");
        return;
    }
    qp.bind(ctrl, a.cmd.qid, depth);
    qp.transport().set_sq_flow_control_disabled(a.cmd.cattr & proto::kConnectAttrDisableSqFlowControl);
    bool authenticate = require_authentication(a, false);
    log::debug("controller {} of {}: I/O queue {} connected (depth {}{})", ctrl->cntlid(), a.subnqn, a.cmd.qid, depth,
               authenticate ? ", authentication required" : "");
    a.req.cqe.dw0 = ctrl->cntlid() | (authenticate ? proto::auth::kAuthreqAtr : 0);
    qp.complete(a.req, status::kSuccess);
}

void execute_connect(Request& req) {
    QueuePair& qp = QueuePair::of(req);
    ParsedConnect p;
    parse_connect(req, p);
    const ConnectCommand& c = p.cmd;
    const std::string& subnqn = p.subnqn;
    const std::string& hostnqn = p.hostnqn;
    ConnectAttempt a{qp, req, p.cmd, p.data, subnqn, hostnqn};

    if (c.recfmt != 0) {
        refuse(a, status::kConnectIncompatibleFormat, &kRecfmt, fmt::format("record format {} is not 0", c.recfmt));
        return;
    }
    uint32_t max_size = qp.target().options().max_queue_size;
    if (c.sqsize == 0 || uint32_t(c.sqsize) + 1 > max_size) {
        refuse(a, status::kConnectInvalidParameters, &kSqsize,
               fmt::format("queue size {} is not between 2 and {} (max-queue-size)", uint32_t(c.sqsize) + 1,
                           max_size));
        return;
    }
    // A transport that set the queue up before Connect (NVMe/RDMA: from the
    // host's CM request) holds the host to what it announced there.
    const plugin::ConnectBinding binding = qp.transport().connect_binding();
    if (binding.qid && *binding.qid != c.qid) {
        refuse(a, status::kConnectInvalidParameters, &kQid,
               fmt::format("the connection was set up for queue {}", *binding.qid));
        return;
    }
    if (binding.max_depth && uint32_t(c.sqsize) + 1 > binding.max_depth) {
        refuse(a, status::kConnectInvalidParameters, &kSqsize,
               fmt::format("queue size {} is more than the {} entries the connection was set up for",
                           uint32_t(c.sqsize) + 1, binding.max_depth));
        return;
    }
    // An empty host NQN is allowed (see Subsystem::host_allowed); anything
    // else must be printable: it ends up in logs, D-Bus and nvmfctl.
    if (auto problem = wire_nqn_problem(hostnqn)) {
        refuse(a, status::kConnectInvalidParameters, &kHostnqn, "the host NQN is invalid: " + *problem);
        return;
    }
    if (subnqn.empty()) {
        refuse(a, status::kConnectInvalidParameters, &kSubnqn, "the subsystem NQN is empty");
        return;
    }
    if (auto problem = wire_nqn_problem(subnqn)) {
        refuse(a, status::kConnectInvalidParameters, &kSubnqn, "the subsystem NQN is invalid: " + *problem);
        return;
    }
    // On TLS the PSK proved who the host is: it may connect only as the host
    // (and to the subsystem) its PSK identity names, not borrow another's NQN.
    if (auto tls = qp.transport().tls_identity(); !tls.empty()) {
        auto id = auth::parse_psk_identity(tls);
        if (!id || id->hostnqn != hostnqn) {
            refuse(a, status::kConnectInvalidHost, &kHostnqn, "the host NQN is not the one its TLS PSK identity names");
            return;
        }
        if (id->subnqn != subnqn) {
            refuse(a, status::kConnectInvalidParameters, &kSubnqn,
                   "the subsystem NQN is not the one the TLS PSK identity names");
            return;
        }
    }
    if (c.qid == 0)
        connect_admin_queue(a);
    else
        connect_io_queue(a);
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
        // A second Connect while the first waits for admission is as out of
        // sequence as one after it succeeded.
        if (qp.connected() || qp.admission().pending())
            return fail_at(req, status::kCommandSequenceError, kFctypeOffset);
        set_handler(req, execute_connect, proto::DataDirection::HostToController, sizeof(ConnectData));
        return status::kSuccess;
    case proto::FabricsType::AuthenticationSend:
    case proto::FabricsType::AuthenticationReceive:
        if (!qp.connected()) return fail_at(req, status::kCommandSequenceError, kFctypeOffset);
        return parse_auth_command(qp, req, req.sqe.fctype() == uint8_t(proto::FabricsType::AuthenticationSend));
    case proto::FabricsType::PropertyGet:
    case proto::FabricsType::PropertySet:
        if (!qp.connected()) return fail_at(req, status::kCommandSequenceError, kFctypeOffset);
        // As SPDK: not even the controller's registers before authentication.
        if (qp.awaiting_authentication()) return status::kConnectAuthRequired.with_dnr();
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
