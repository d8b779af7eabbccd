// The controller's side of one DH-HMAC-CHAP transaction on one queue
// (NVMe Base 2.x, 8.3.4.5): the host's Authentication Send messages go in
// (NEGOTIATE, REPLY, SUCCESS2, FAILURE2), Authentication Receive takes the
// answers out (CHALLENGE, SUCCESS1, FAILURE1). It knows nothing of queues
// or transports; exec_auth.cpp drives it.
//
// Choices where the Linux kernel's nvmet and SPDK differ, and why:
// - the hash and the DH group are the strongest both sides allow (as SPDK;
//   the kernel's target uses one configured pair), so that `--dhchap-digests`
//   and `--dhchap-groups` are the admin's whole control;
// - a REPLY with C2 but sequence number 0 asks for no controller
//   authentication (the kernel's reading of the spec; SPDK refuses it);
// - a REPLY longer than its fields is accepted (the kernel; SPDK wants the
//   exact length); a shorter one is an incorrect payload.
#pragma once

#include <memory>
#include <optional>
#include <span>
#include <string>

#include "core/auth/crypto.hpp"
#include "core/auth/dhchap_secret.hpp"

namespace nvmfd::auth {

// What the subsystem holds for the host, taken when a transaction starts
// (a key changed later applies to the next one).
struct DhchapSettings {
    std::shared_ptr<const DhchapSecret> host_key;  // required
    std::shared_ptr<const DhchapSecret> ctrl_key;  // for bidirectional authentication
    uint8_t hashes = 0b1110;                       // bit n: hash ID n allowed
    uint8_t groups = 0b111111;                     // bit n: DH group ID n allowed
};

class DhchapTransaction {
public:
    enum class Outcome { InProgress, Authenticated, Failed };

    DhchapTransaction(std::string hostnqn, std::string subnqn);
    ~DhchapTransaction();

    // An Authentication Send message. Protocol failures are kept and sent
    // as FAILURE1 by the next receive; nothing here fails the command.
    void on_send(std::span<const uint8_t> message, const DhchapSettings& settings);
    // The Authentication Receive answer, at most `al` bytes; nullopt when
    // not even a FAILURE1 fits in `al` (the command then fails).
    std::optional<Bytes> on_receive(size_t al);

    Outcome outcome() const { return outcome_; }
    // Why the transaction failed, for the admin's log (no secret in it).
    const std::string& failure() const { return failure_; }
    uint8_t hash() const { return hash_; }
    uint8_t group() const { return group_; }
    bool bidirectional() const { return !r2_.empty(); }

private:
    enum class Step { ExpectNegotiate, SendChallenge, ExpectReply, SendSuccess1, ExpectSuccess2, SendFailure1, Done };

    void negotiate(std::span<const uint8_t> m, const DhchapSettings& settings);
    void reply(std::span<const uint8_t> m);
    void fail(uint8_t explanation, std::string why);
    Bytes challenge_message();
    Bytes success1_message();
    Bytes failure1_message();
    Bytes augmented(std::span<const uint8_t> challenge) const;

    std::string hostnqn_;
    std::string subnqn_;
    Step step_ = Step::ExpectNegotiate;
    Outcome outcome_ = Outcome::InProgress;
    std::string failure_;
    uint8_t explanation_ = 0;
    uint16_t tid_ = 0;
    uint8_t hash_ = 0;
    uint8_t group_ = 0;
    uint32_t s1_ = 0;
    Bytes c1_;
    Bytes r2_;
    Bytes session_key_;
    std::optional<DhKey> dh_;
    DhchapSettings settings_;
};

const char* explanation_name(uint8_t explanation);

}  // namespace nvmfd::auth
