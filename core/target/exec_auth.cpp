// Fabrics Authentication Send/Receive: DH-HMAC-CHAP on one queue. The
// protocol itself is auth::DhchapTransaction; this file checks the capsule
// (SECP, SPSP, TL/AL), feeds the messages through, and acts on the outcome:
// the queue is authenticated, or the host is refused (notice in the log,
// queue closed once the FAILURE1 it reads is sent).
#include <cstring>
#include <functional>
#include <memory>
#include <optional>

#include "core/proto/auth.hpp"
#include "core/runtime/log.hpp"
#include "core/target/exec.hpp"
#include "core/target/queue_pair.hpp"
#include "core/target/target.hpp"

namespace nvmfd::target {

using plugin::Request;
using proto::Status;
namespace status = proto::status;
namespace wire = proto::auth;

namespace {

// The largest message a host sends: REPLY with two SHA-512 values and an
// ffdhe8192 value is 1,168 bytes; anything far beyond is not DH-HMAC-CHAP.
constexpr uint32_t kMaxSendLength = 4096;
constexpr uint32_t kMaxReceiveLength = 65536;

void refuse_host(QueuePair& qp, const std::string& why) {
    const ControllerIdentity& id = qp.controller()->identity();
    log::notice("authentication refused: host '{}' ({}) to '{}' queue {} on port {}: {}", id.hostnqn,
                qp.peer_address(), id.subnqn, qp.qid(), qp.port_id(), why);
    if (qp.qid() == 0)
        qp.target().connect_refused(ConnectRefusal{id.hostnqn, id.subnqn, qp.port_id(), qp.peer_address(),
                                                   "authentication failed: " + why});
}

void finish(QueuePair& qp, Request& req) {
    auto& a = qp.auth();
    auto outcome = a.transaction->outcome();
    if (outcome == auth::DhchapTransaction::Outcome::Authenticated && !a.authenticated) {
        a.authenticated = true;
        log::info("host {} authenticated on {} queue {} ({}, {}{})", qp.controller()->identity().hostnqn,
                  qp.controller()->identity().subnqn, qp.qid(), auth::hash_name(a.transaction->hash()),
                  auth::dh_group_name(a.transaction->group()),
                  a.transaction->bidirectional() ? ", bidirectional" : "");
    } else if (outcome == auth::DhchapTransaction::Outcome::Authenticated) {
        log::info("host {} re-authenticated on {} queue {}", qp.controller()->identity().hostnqn,
                  qp.controller()->identity().subnqn, qp.qid());
    }
    bool failed = outcome == auth::DhchapTransaction::Outcome::Failed;
    if (failed) {
        a.authenticated = false;
        refuse_host(qp, a.transaction->failure());
    }
    qp.complete(req, status::kSuccess);
    if (failed) qp.transport().close("authentication failed");
}

// Runs `step` on the queue's transaction on an auth worker, then `then` back
// on the queue's reactor, unless the queue closed meanwhile (on_close_begin
// completed the command and dropped the token). The reactor leaves the
// transaction alone until then: a second command meanwhile is refused.
using AuthStep = std::function<void(auth::DhchapTransaction&)>;
using AuthThen = std::function<void(QueuePair&, Request&)>;

void on_auth_worker(QueuePair& qp, Request& req, AuthStep step, AuthThen then) {
    auto& a = qp.auth();
    a.working = &req;
    a.token = std::make_shared<int>();
    std::weak_ptr<int> issued = a.token;
    runtime::Reactor* reactor = &qp.reactor();
    QueuePair* q = &qp;
    qp.target().auth_workers().post([tx = a.transaction, step = std::move(step), then = std::move(then), reactor,
                                     issued, q, &req]() mutable {
        step(*tx);
        reactor->post([issued, q, &req, then = std::move(then)] {
            if (issued.expired()) return;
            q->auth().working = nullptr;
            q->auth().token.reset();
            then(*q, req);
        });
    });
}

void execute_auth_send(Request& req) {
    QueuePair& qp = QueuePair::of(req);
    std::vector<uint8_t> message(req.transfer_length);
    copy_from_request(req, message.data(), message.size());
    const Subsystem* sub = qp.subsystem();
    const HostAuth* host = sub ? sub->auth_for(qp.controller()->identity().hostnqn) : nullptr;
    // Keys are read when a transaction starts; one removed meanwhile makes
    // the host's response fail to verify, as a wrong key would. A copy goes
    // to the worker: the snapshot holding them may be replaced meanwhile.
    auth::DhchapSettings settings = host && host->dhchap ? host->dhchap_settings : auth::DhchapSettings{};
    on_auth_worker(
        qp, req,
        [message = std::move(message), settings = std::move(settings)](auth::DhchapTransaction& tx) {
            tx.on_send(message, settings);
        },
        finish);
}

void send_auth_message(Request& req) {
    QueuePair& qp = QueuePair::of(req);
    auto& a = qp.auth();
    copy_to_request(req, a.outgoing.data(), a.outgoing.size());
    finish(qp, req);
}

void answer_auth_receive(QueuePair& qp, Request& req, std::optional<auth::Bytes> message) {
    auto& a = qp.auth();
    if (!message) {
        // Not even a FAILURE1 fits in the host's allocation length.
        refuse_host(qp, a.transaction->failure());
        qp.complete_error(req, status::kInvalidField, offsetof(wire::AuthCommand, length));
        qp.transport().close("authentication failed");
        return;
    }
    a.outgoing = std::move(*message);
    // The pool part holds the message; the rest of AL reads as zeroes.
    qp.with_data_buffer(req, send_auth_message, uint32_t(a.outgoing.size()));
}

void execute_auth_receive(Request& req) {
    QueuePair& qp = QueuePair::of(req);
    // The worker answers into a box of its own; the reactor takes it after.
    auto answer = std::make_shared<std::optional<auth::Bytes>>();
    size_t al = req.transfer_length;
    on_auth_worker(
        qp, req, [answer, al](auth::DhchapTransaction& tx) { *answer = tx.on_receive(al); },
        [answer](QueuePair& q, Request& r) { answer_auth_receive(q, r, std::move(*answer)); });
}

}  // namespace

Status parse_auth_command(QueuePair& qp, Request& req, bool send) {
    wire::AuthCommand c;
    std::memcpy(&c, &req.sqe, sizeof c);
    if (c.secp != wire::kSecpDhchap) return fail_at(req, status::kInvalidField, offsetof(wire::AuthCommand, secp));
    if (c.spsp0 != wire::kSpsp) return fail_at(req, status::kInvalidField, offsetof(wire::AuthCommand, spsp0));
    if (c.spsp1 != wire::kSpsp) return fail_at(req, status::kInvalidField, offsetof(wire::AuthCommand, spsp1));
    uint32_t limit = send ? kMaxSendLength : kMaxReceiveLength;
    if (c.length == 0 || c.length > limit)
        return fail_at(req, status::kInvalidField, offsetof(wire::AuthCommand, length));
    // Authentication belongs to controllers that ask for it (AUTHREQ in the
    // Connect response); a discovery controller never does. Those queues
    // got their transaction at Connect (require_authentication).
    if (!qp.auth().required) return fail_at(req, status::kCommandSequenceError, 4);
    // One message at a time: the protocol is a strict exchange, and a worker
    // may be running the transaction for the previous one.
    if (qp.auth().working) return fail_at(req, status::kCommandSequenceError, 4);
    set_handler(req, send ? execute_auth_send : execute_auth_receive,
                send ? proto::DataDirection::HostToController : proto::DataDirection::ControllerToHost, c.length);
    return status::kSuccess;
}

}  // namespace nvmfd::target
