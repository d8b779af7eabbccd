// NVMe in-band authentication (DH-HMAC-CHAP) on the wire: the fabrics
// Authentication Send/Receive capsules and the messages they carry
// (NVMe Base Specification 2.x, section 8.3.4.5). Multi-byte fields are
// little endian, as everywhere in NVMe.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/proto/nvme.hpp"

namespace nvmfd::proto::auth {

// Authentication Send (fctype 0x05) and Receive (0x06): TL is the length
// the host sends, AL the length it can take back.
struct AuthCommand {
    uint8_t opcode;
    uint8_t reserved1;
    uint16_t cid;
    uint8_t fctype;
    uint8_t reserved2[19];
    SglDescriptor sgl;
    uint8_t reserved3;
    uint8_t spsp0;
    uint8_t spsp1;
    uint8_t secp;
    uint32_t length;  // TL (send) or AL (receive)
    uint8_t reserved4[16];
};
static_assert(sizeof(AuthCommand) == sizeof(Sqe));
static_assert(offsetof(AuthCommand, spsp0) == 41);
static_assert(offsetof(AuthCommand, secp) == 43);
static_assert(offsetof(AuthCommand, length) == 44);

inline constexpr uint8_t kSecpDhchap = 0xe9;  // the only security protocol
inline constexpr uint8_t kSpsp = 0x01;        // SPSP0 and SPSP1

// The AUTHREQ field of a Connect response (DW0 bits 16-31): ATR says an
// authentication transaction is required, ASCR a secure channel.
inline constexpr uint32_t kAuthreqAtr = 1u << 17;
inline constexpr uint32_t kAuthreqAscr = 1u << 18;

enum MessageType : uint8_t { kCommonMessages = 0x00, kDhchapMessages = 0x01 };
enum MessageId : uint8_t {
    kNegotiate = 0x00,
    kChallenge = 0x01,
    kReply = 0x02,
    kSuccess1 = 0x03,
    kSuccess2 = 0x04,
    kFailure2 = 0xf0,
    kFailure1 = 0xf1,
};
inline constexpr uint8_t kAuthIdDhchap = 0x01;  // protocol descriptor AUTHID

// Hash functions and Diffie-Hellman groups by their identifiers.
enum HashId : uint8_t { kSha256 = 1, kSha384 = 2, kSha512 = 3 };
enum DhGroupId : uint8_t { kNullGroup = 0, kFfdhe2048 = 1, kFfdhe3072 = 2, kFfdhe4096 = 3, kFfdhe6144 = 4, kFfdhe8192 = 5 };

// Failure reason code and explanations (FAILURE1/FAILURE2).
inline constexpr uint8_t kReasonFailed = 0x01;
enum Explanation : uint8_t {
    kFailed = 0x01,
    kProtocolUnusable = 0x02,
    kConcatMismatch = 0x03,
    kHashUnusable = 0x04,
    kGroupUnusable = 0x05,
    kIncorrectPayload = 0x06,
    kIncorrectMessage = 0x07,
};

#pragma pack(push, 1)
struct Header {
    uint8_t type;
    uint8_t id;
    uint16_t reserved;
    uint16_t tid;
};

struct ProtocolDescriptor {
    uint8_t authid;
    uint8_t reserved;
    uint8_t halen;
    uint8_t dhlen;
    uint8_t ids[60];  // hash IDs at 0..29, DH group IDs at 30..59
};
inline constexpr size_t kDhGroupListOffset = 30;

struct Negotiate {
    Header h;
    uint8_t sc_c;  // secure channel concatenation; 0 = none
    uint8_t napd;  // number of protocol descriptors that follow
};

struct Challenge {
    Header h;
    uint8_t hl;
    uint8_t reserved1;
    uint8_t hashid;
    uint8_t dhgid;
    uint16_t dhvlen;
    uint32_t seqnum;
    // hl bytes of C1, then dhvlen bytes of the controller's DH value
};

struct Reply {
    Header h;
    uint8_t hl;
    uint8_t reserved1;
    uint8_t cvalid;
    uint8_t reserved2;
    uint16_t dhvlen;
    uint32_t seqnum;
    // hl bytes of R1, hl bytes of C2, dhvlen bytes of the host's DH value
};

struct Success1 {
    Header h;
    uint8_t hl;
    uint8_t reserved1;
    uint8_t rvalid;
    uint8_t reserved2[7];
    // hl bytes of R2 when rvalid
};

struct Success2 {
    Header h;
    uint8_t reserved[10];
};

struct Failure {
    Header h;
    uint8_t reason;
    uint8_t explanation;
};
#pragma pack(pop)
static_assert(sizeof(Header) == 6);
static_assert(sizeof(Negotiate) == 8);
static_assert(sizeof(ProtocolDescriptor) == 64);
static_assert(sizeof(Challenge) == 16);
static_assert(sizeof(Reply) == 16);
static_assert(sizeof(Success1) == 16);
static_assert(sizeof(Success2) == 16);
static_assert(sizeof(Failure) == 8);

}  // namespace nvmfd::proto::auth
