#include "tools/host/dhchap.hpp"

#include <cstring>

#include "core/auth/crypto.hpp"
#include "core/auth/dhchap_secret.hpp"
#include "core/proto/auth.hpp"
#include "core/proto/fabrics.hpp"
#include "tools/host/errors.hpp"

namespace nvmfd::host {

namespace wire = proto::auth;
using auth::Bytes;

namespace {

proto::Sqe auth_command(proto::FabricsType type, uint32_t length) {
    wire::AuthCommand c{};
    c.opcode = static_cast<uint8_t>(proto::AdminOpcode::Fabrics);
    c.fctype = static_cast<uint8_t>(type);
    c.secp = wire::kSecpDhchap;
    c.spsp0 = wire::kSpsp;
    c.spsp1 = wire::kSpsp;
    c.length = length;
    proto::Sqe sqe;
    std::memcpy(&sqe, &c, sizeof sqe);
    return sqe;
}

template <typename T>
void append(Bytes& out, const T& t) {
    // resize + memcpy: GCC 12 at -O3 misreads insert() here (-Warray-bounds).
    size_t at = out.size();
    out.resize(at + sizeof t);
    std::memcpy(out.data() + at, &t, sizeof t);
}

template <typename T>
T header_of(const Bytes& m) {
    T t{};
    std::memcpy(&t, m.data(), std::min(sizeof t, m.size()));
    return t;
}

Bytes le_bytes(uint64_t v, size_t n) {
    Bytes b(n);
    for (size_t i = 0; i < n; ++i) b[i] = uint8_t(v >> (8 * i));
    return b;
}

Bytes response(uint8_t hash, const Bytes& key, const Bytes& challenge, uint32_t seq, uint16_t tid,
               std::string_view role, const std::string& first, const std::string& second) {
    const uint8_t zero = 0;
    return auth::Hmac(hash, key)
        .update(challenge)
        .update(le_bytes(seq, 4))
        .update(le_bytes(tid, 2))
        .update(std::span(&zero, 1))
        .update(role)
        .update(first)
        .update(std::span(&zero, 1))
        .update(second)
        .final();
}

[[noreturn]] void refused(const Bytes& m, const char* when) {
    auto f = header_of<wire::Failure>(m);
    throw Error(fmt::format("the controller refused authentication {} (FAILURE1, explanation {:#04x})", when,
                            f.explanation));
}

}  // namespace

Completion auth_send(Queue& queue, const std::vector<uint8_t>& message) {
    auto sqe = auth_command(proto::FabricsType::AuthenticationSend, uint32_t(message.size()));
    return queue.execute(sqe, Transfer::to_controller(std::as_bytes(std::span(message))));
}

Completion auth_receive(Queue& queue, std::vector<uint8_t>& message, uint32_t allocation_length) {
    message.assign(allocation_length, 0);
    auto sqe = auth_command(proto::FabricsType::AuthenticationReceive, allocation_length);
    return queue.execute(sqe, Transfer::from_controller(std::as_writable_bytes(std::span(message))));
}

DhchapResult authenticate(Queue& queue, const std::string& hostnqn, const std::string& subnqn,
                          const DhchapCredentials& cred) {
    auto host_key = auth::DhchapSecret::parse(cred.secret, "dhchap-secret");
    if (!host_key) throw Error(host_key.error().describe());
    std::optional<auth::DhchapSecret> ctrl_key;
    if (!cred.ctrl_secret.empty()) {
        auto k = auth::DhchapSecret::parse(cred.ctrl_secret, "dhchap-ctrl-secret");
        if (!k) throw Error(k.error().describe());
        ctrl_key = std::move(*k);
    }
    uint16_t tid = uint16_t(auth::random_bytes(2)[0] | 0x100);
    auto check = [](const Completion& c, const char* what) {
        if (!c.status.ok()) throw StatusError(c.status, c.dw0, fmt::format("{} failed: {} (SCT {} SC {:#04x})", what, proto::status_name(c.status), unsigned(c.status.sct()), c.status.sc()));
    };

    // NEGOTIATE
    Bytes m;
    append(m, wire::Negotiate{{wire::kCommonMessages, wire::kNegotiate, 0, tid}, 0, 1});
    wire::ProtocolDescriptor d{};
    d.authid = wire::kAuthIdDhchap;
    d.halen = uint8_t(cred.hashes.size());
    d.dhlen = uint8_t(cred.groups.size());
    std::copy(cred.hashes.begin(), cred.hashes.end(), d.ids);
    std::copy(cred.groups.begin(), cred.groups.end(), d.ids + wire::kDhGroupListOffset);
    append(m, d);
    check(auth_send(queue, m), "Authentication Send (NEGOTIATE)");

    // CHALLENGE
    Bytes in;
    check(auth_receive(queue, in), "Authentication Receive (CHALLENGE)");
    auto c = header_of<wire::Challenge>(in);
    if (c.h.id == wire::kFailure1) refused(in, "at negotiation");
    if (c.h.type != wire::kDhchapMessages || c.h.id != wire::kChallenge || c.h.tid != tid)
        throw Error(fmt::format("expected a CHALLENGE for transaction {}, got type {} id {:#x} tid {}", tid, c.h.type,
                                c.h.id, c.h.tid));
    size_t hl = auth::hash_length(c.hashid);
    if (hl == 0 || c.hl != hl) throw Error(fmt::format("CHALLENGE with hash {} and HL {}", c.hashid, c.hl));
    Bytes c1(in.begin() + sizeof c, in.begin() + sizeof c + hl);
    Bytes ctrl_dh(in.begin() + sizeof c + hl, in.begin() + sizeof c + hl + c.dhvlen);

    Bytes session_key, host_dh;
    if (c.dhgid != wire::kNullGroup) {
        auto key = auth::DhKey::generate(c.dhgid);
        if (!key) throw Error(key.error().message);
        host_dh = key->public_value();
        auto s = key->shared_secret(ctrl_dh);
        if (!s) throw Error("the controller's DH value: " + s.error().message);
        session_key = std::move(*s);
    }
    auto augmented = [&](const Bytes& ch) {
        if (session_key.empty()) return ch;
        return auth::Hmac(c.hashid, auth::digest(c.hashid, session_key)).update(ch).final();
    };

    // REPLY
    Bytes r1 = response(c.hashid, host_key->transformed(hostnqn), augmented(c1), c.seqnum, tid, "HostHost", hostnqn,
                        subnqn);
    Bytes c2 = ctrl_key ? auth::random_bytes(hl) : Bytes(hl, 0);
    uint32_t s2 = 0;
    if (ctrl_key)
        while (s2 == 0) std::memcpy(&s2, auth::random_bytes(4).data(), 4);
    m.clear();
    append(m, wire::Reply{{wire::kDhchapMessages, wire::kReply, 0, tid}, uint8_t(hl), 0, uint8_t(ctrl_key ? 1 : 0), 0,
                          uint16_t(host_dh.size()), s2});
    m.insert(m.end(), r1.begin(), r1.end());
    m.insert(m.end(), c2.begin(), c2.end());
    m.insert(m.end(), host_dh.begin(), host_dh.end());
    check(auth_send(queue, m), "Authentication Send (REPLY)");

    // SUCCESS1 or FAILURE1
    check(auth_receive(queue, in), "Authentication Receive (SUCCESS1)");
    auto s1 = header_of<wire::Success1>(in);
    if (s1.h.id == wire::kFailure1) refused(in, "after the reply");
    if (s1.h.id != wire::kSuccess1 || s1.h.tid != tid) throw Error("expected SUCCESS1");
    DhchapResult result{c.hashid, c.dhgid, bool(ctrl_key)};
    if (!ctrl_key) return result;

    // The controller's proof, then SUCCESS2 or FAILURE2.
    Bytes expected = response(c.hashid, ctrl_key->transformed(subnqn), augmented(c2), s2, tid, "Controller", subnqn,
                              hostnqn);
    Bytes r2(in.begin() + sizeof s1, in.begin() + sizeof s1 + hl);
    bool ok = s1.rvalid == 1 && auth::equal_secret(expected, r2);
    m.clear();
    if (ok)
        append(m, wire::Success2{{wire::kDhchapMessages, wire::kSuccess2, 0, tid}, {}});
    else
        append(m, wire::Failure{{wire::kCommonMessages, wire::kFailure2, 0, tid}, wire::kReasonFailed, wire::kFailed});
    check(auth_send(queue, m), ok ? "Authentication Send (SUCCESS2)" : "Authentication Send (FAILURE2)");
    if (!ok) throw Error("the controller's response does not match the controller secret");
    return result;
}

}  // namespace nvmfd::host
