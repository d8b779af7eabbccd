#include "core/auth/dhchap_transaction.hpp"

#include <cstring>
#include <exception>

#include "core/proto/auth.hpp"

namespace nvmfd::auth {

namespace wire = proto::auth;

namespace {

// Strongest first.
constexpr uint8_t kHashPreference[] = {wire::kSha512, wire::kSha384, wire::kSha256};
constexpr uint8_t kGroupPreference[] = {wire::kFfdhe8192, wire::kFfdhe6144, wire::kFfdhe4096,
                                        wire::kFfdhe3072, wire::kFfdhe2048, wire::kNullGroup};

template <typename T>
T read_struct(std::span<const uint8_t> m) {
    T t;
    std::memcpy(&t, m.data(), sizeof t);
    return t;
}

uint32_t random_seqnum() {
    uint32_t s = 0;
    while (s == 0) {
        Bytes r = random_bytes(4);
        std::memcpy(&s, r.data(), 4);
    }
    return s;
}

}  // namespace

const char* explanation_name(uint8_t e) {
    switch (e) {
    case wire::kFailed: return "authentication failed";
    case wire::kProtocolUnusable: return "authentication protocol not usable";
    case wire::kConcatMismatch: return "secure channel concatenation mismatch";
    case wire::kHashUnusable: return "hash function not usable";
    case wire::kGroupUnusable: return "DH group not usable";
    case wire::kIncorrectPayload: return "incorrect payload";
    case wire::kIncorrectMessage: return "incorrect protocol message";
    default: return "unknown";
    }
}

DhchapTransaction::DhchapTransaction(std::string hostnqn, std::string subnqn)
    : hostnqn_(std::move(hostnqn)), subnqn_(std::move(subnqn)) {}
DhchapTransaction::~DhchapTransaction() = default;

void DhchapTransaction::fail(uint8_t explanation, std::string why) {
    explanation_ = explanation;
    failure_ = std::move(why);
    step_ = Step::SendFailure1;
}

void DhchapTransaction::on_send(std::span<const uint8_t> m, const DhchapSettings& settings) {
    if (outcome_ == Outcome::Failed) return;
    if (m.size() < sizeof(wire::Header)) {
        fail(wire::kIncorrectPayload, fmt::format("a {}-byte message has no header", m.size()));
        return;
    }
    auto h = read_struct<wire::Header>(m);
    try {
        // A NEGOTIATE starts a transaction at any time: the first one, a
        // re-authentication the host asks for, or a restart after an error.
        if (h.type == wire::kCommonMessages && h.id == wire::kNegotiate) {
            negotiate(m, settings);
            return;
        }
        bool expected = (step_ == Step::ExpectReply && h.type == wire::kDhchapMessages && h.id == wire::kReply) ||
                        (step_ == Step::ExpectSuccess2 &&
                         ((h.type == wire::kDhchapMessages && h.id == wire::kSuccess2) ||
                          (h.type == wire::kCommonMessages && h.id == wire::kFailure2)));
        if (!expected) {
            fail(wire::kIncorrectMessage, fmt::format("message type {} id {:#04x} out of sequence", h.type, h.id));
            return;
        }
        if (h.tid != tid_) {
            fail(wire::kIncorrectPayload, fmt::format("transaction ID {} where {} was negotiated", h.tid, tid_));
            return;
        }
        if (h.id == wire::kReply) {
            reply(m);
        } else if (h.id == wire::kSuccess2) {
            step_ = Step::Done;
            outcome_ = Outcome::Authenticated;
        } else {
            // FAILURE2: the host did not accept our response. Nothing to send back.
            uint8_t e = m.size() >= sizeof(wire::Failure) ? read_struct<wire::Failure>(m).explanation : 0;
            failure_ = fmt::format("the host rejected the controller's response ({}): check the controller "
                                   "secret (dhchap-ctrl-secret) on both sides",
                                   explanation_name(e));
            step_ = Step::Done;
            outcome_ = Outcome::Failed;
        }
    } catch (const std::exception& e) {
        fail(wire::kFailed, fmt::format("internal error: {}", e.what()));
    }
}

void DhchapTransaction::negotiate(std::span<const uint8_t> m, const DhchapSettings& settings) {
    // A fresh transaction: forget what an earlier one chose.
    outcome_ = Outcome::InProgress;
    r2_.clear();
    session_key_.clear();
    dh_.reset();
    failure_.clear();
    settings_ = settings;
    if (m.size() < sizeof(wire::Negotiate) + sizeof(wire::ProtocolDescriptor)) {
        fail(wire::kIncorrectPayload, fmt::format("a {}-byte NEGOTIATE holds no protocol descriptor", m.size()));
        return;
    }
    auto n = read_struct<wire::Negotiate>(m);
    tid_ = n.h.tid;
    if (!settings.host_key) {
        fail(wire::kFailed, "no DH-HMAC-CHAP secret is set for the host on this subsystem");
        return;
    }
    if (n.sc_c != 0) {
        fail(wire::kConcatMismatch, "the host asks for secure channel concatenation, which nvmfd does not offer");
        return;
    }
    std::optional<wire::ProtocolDescriptor> dhchap;
    size_t fitting = (m.size() - sizeof(wire::Negotiate)) / sizeof(wire::ProtocolDescriptor);
    for (size_t i = 0; i < std::min<size_t>(n.napd, fitting); ++i) {
        auto d = read_struct<wire::ProtocolDescriptor>(
            m.subspan(sizeof(wire::Negotiate) + i * sizeof(wire::ProtocolDescriptor)));
        if (d.authid == wire::kAuthIdDhchap) {
            dhchap = d;
            break;
        }
    }
    if (!dhchap) {
        fail(wire::kProtocolUnusable, "no DH-HMAC-CHAP protocol descriptor");
        return;
    }
    if (dhchap->halen > wire::kDhGroupListOffset || dhchap->dhlen > wire::kDhGroupListOffset) {
        fail(wire::kIncorrectPayload, fmt::format("HALEN {} or DHLEN {} beyond 30", dhchap->halen, dhchap->dhlen));
        return;
    }
    auto offered = [&](uint8_t id, size_t base, size_t count) {
        for (size_t i = 0; i < count; ++i)
            if (dhchap->ids[base + i] == id) return true;
        return false;
    };
    hash_ = 0;
    for (uint8_t id : kHashPreference)
        if ((settings.hashes >> id & 1) && offered(id, 0, dhchap->halen)) {
            hash_ = id;
            break;
        }
    if (!hash_) {
        fail(wire::kHashUnusable, "no hash function both the host offers and the subsystem allows (dhchap-digests)");
        return;
    }
    std::optional<uint8_t> group;
    for (uint8_t id : kGroupPreference)
        if ((settings.groups >> id & 1) && offered(id, wire::kDhGroupListOffset, dhchap->dhlen)) {
            group = id;
            break;
        }
    if (!group) {
        fail(wire::kGroupUnusable, "no DH group both the host offers and the subsystem allows (dhchap-groups)");
        return;
    }
    group_ = *group;
    step_ = Step::SendChallenge;
}

// With a DH group, challenges are augmented: HMAC(H(g^xy), C).
Bytes DhchapTransaction::augmented(std::span<const uint8_t> challenge) const {
    if (group_ == wire::kNullGroup) return Bytes(challenge.begin(), challenge.end());
    Bytes hashed_key = digest(hash_, session_key_);
    return Hmac(hash_, hashed_key).update(challenge).final();
}

void DhchapTransaction::reply(std::span<const uint8_t> m) {
    size_t hl = hash_length(hash_);
    if (m.size() < sizeof(wire::Reply)) {
        fail(wire::kIncorrectPayload, fmt::format("a {}-byte REPLY", m.size()));
        return;
    }
    auto r = read_struct<wire::Reply>(m);
    if (r.hl != hl || sizeof(wire::Reply) + 2 * hl + r.dhvlen > m.size() || r.cvalid > 1) {
        fail(wire::kIncorrectPayload, fmt::format("REPLY fields HL {} DHVLEN {} CVALID {} do not fit the {} negotiated "
                                                  "or the {} bytes sent",
                                                  r.hl, r.dhvlen, r.cvalid, hash_name(hash_), m.size()));
        return;
    }
    auto r1 = m.subspan(sizeof(wire::Reply), hl);
    auto c2 = m.subspan(sizeof(wire::Reply) + hl, hl);
    auto host_dh = m.subspan(sizeof(wire::Reply) + 2 * hl, r.dhvlen);
    if (group_ != wire::kNullGroup) {
        if (!dh_) {
            fail(wire::kIncorrectMessage, "REPLY before the CHALLENGE was read");
            return;
        }
        auto secret = dh_->shared_secret(host_dh);
        if (!secret) {
            fail(wire::kGroupUnusable, fmt::format("the host's DH value: {}", secret.error().message));
            return;
        }
        session_key_ = std::move(*secret);
    } else if (r.dhvlen != 0) {
        fail(wire::kIncorrectPayload, "a DH value with the null DH group");
        return;
    }
    Bytes s1(4), tid(2);
    std::memcpy(s1.data(), &s1_, 4);
    std::memcpy(tid.data(), &tid_, 2);
    const uint8_t zero = 0;
    Bytes expected = Hmac(hash_, settings_.host_key->transformed(hostnqn_))
                         .update(augmented(c1_))
                         .update(s1)
                         .update(tid)
                         .update(std::span(&zero, 1))  // SC_C
                         .update("HostHost")
                         .update(hostnqn_)
                         .update(std::span(&zero, 1))
                         .update(subnqn_)
                         .final();
    if (!equal_secret(expected, r1)) {
        fail(wire::kFailed, "the host's response does not match its secret (wrong or missing DH-HMAC-CHAP secret "
                            "on the host)");
        return;
    }
    // C2 with sequence number 0 carries no request to authenticate us.
    if (r.cvalid && r.seqnum != 0) {
        if (!settings_.ctrl_key) {
            fail(wire::kFailed, "the host asks the controller to authenticate, but no controller secret is set for "
                                "it (dhchap-ctrl-secret)");
            return;
        }
        Bytes s2(4);
        std::memcpy(s2.data(), &r.seqnum, 4);
        r2_ = Hmac(hash_, settings_.ctrl_key->transformed(subnqn_))
                  .update(augmented(c2))
                  .update(s2)
                  .update(tid)
                  .update(std::span(&zero, 1))
                  .update("Controller")
                  .update(subnqn_)
                  .update(std::span(&zero, 1))
                  .update(hostnqn_)
                  .final();
    }
    step_ = Step::SendSuccess1;
}

std::optional<Bytes> DhchapTransaction::on_receive(size_t al) {
    Bytes out;
    try {
        switch (step_) {
        case Step::SendChallenge: out = challenge_message(); break;
        case Step::SendSuccess1: out = success1_message(); break;
        case Step::SendFailure1: break;
        default:
            fail(wire::kIncorrectMessage, "Authentication Receive with no message due");
            break;
        }
    } catch (const std::exception& e) {
        fail(wire::kFailed, fmt::format("internal error: {}", e.what()));
        out.clear();
    }
    if (!out.empty() && out.size() > al) {
        fail(wire::kIncorrectPayload, fmt::format("allocation length {} below the {}-byte message", al, out.size()));
        out.clear();
    }
    if (step_ == Step::SendFailure1) {
        out = failure1_message();
        step_ = Step::Done;
        outcome_ = Outcome::Failed;
        if (out.size() > al) return std::nullopt;
        return out;
    }
    if (step_ == Step::SendChallenge) step_ = Step::ExpectReply;
    else if (step_ == Step::SendSuccess1) {
        if (bidirectional()) {
            step_ = Step::ExpectSuccess2;
        } else {
            step_ = Step::Done;
            outcome_ = Outcome::Authenticated;
        }
    }
    return out;
}

Bytes DhchapTransaction::challenge_message() {
    size_t hl = hash_length(hash_);
    c1_ = random_bytes(hl);
    s1_ = random_seqnum();
    Bytes dhv;
    if (group_ != wire::kNullGroup) {
        auto key = DhKey::generate(group_);
        if (!key) throw std::runtime_error(key.error().message);
        dh_ = std::move(*key);
        dhv = dh_->public_value();
    }
    wire::Challenge c{};
    c.h = {wire::kDhchapMessages, wire::kChallenge, 0, tid_};
    c.hl = uint8_t(hl);
    c.hashid = hash_;
    c.dhgid = group_;
    c.dhvlen = uint16_t(dhv.size());
    c.seqnum = s1_;
    // Sized once: GCC 12 at -O3 misreads insert() after a memcpy (-Warray-bounds).
    Bytes out(sizeof c + c1_.size() + dhv.size());
    std::memcpy(out.data(), &c, sizeof c);
    std::copy(c1_.begin(), c1_.end(), out.begin() + sizeof c);
    std::copy(dhv.begin(), dhv.end(), out.begin() + sizeof c + c1_.size());
    return out;
}

Bytes DhchapTransaction::success1_message() {
    wire::Success1 s{};
    s.h = {wire::kDhchapMessages, wire::kSuccess1, 0, tid_};
    // HL is set even without a response: the Linux host checks it.
    s.hl = uint8_t(hash_length(hash_));
    s.rvalid = bidirectional() ? 1 : 0;
    Bytes out(sizeof s + r2_.size());
    std::memcpy(out.data(), &s, sizeof s);
    std::copy(r2_.begin(), r2_.end(), out.begin() + sizeof s);
    return out;
}

Bytes DhchapTransaction::failure1_message() {
    wire::Failure f{};
    f.h = {wire::kCommonMessages, wire::kFailure1, 0, tid_};
    f.reason = wire::kReasonFailed;
    f.explanation = explanation_;
    Bytes out(sizeof f);
    std::memcpy(out.data(), &f, sizeof f);
    return out;
}

}  // namespace nvmfd::auth
