// NVMe/TCP PDU formats (NVMe over TCP transport specification 1.0).
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/proto/nvme.hpp"

namespace nvmfd::proto::tcp {

enum class PduType : uint8_t {
    ICReq = 0x00,
    ICResp = 0x01,
    H2CTermReq = 0x02,
    C2HTermReq = 0x03,
    CapsuleCmd = 0x04,
    CapsuleResp = 0x05,
    H2CData = 0x06,
    C2HData = 0x07,
    R2T = 0x09,
};

namespace flags {
inline constexpr uint8_t kHeaderDigest = 1u << 0;  // HDGSTF
inline constexpr uint8_t kDataDigest = 1u << 1;    // DDGSTF
inline constexpr uint8_t kLastPdu = 1u << 2;       // H2CData / C2HData
inline constexpr uint8_t kSuccess = 1u << 3;       // C2HData only
}  // namespace flags

struct CommonHeader {
    PduType type;
    uint8_t flags;
    uint8_t hlen;  // header length, digest excluded
    uint8_t pdo;   // data offset from the start of the PDU, 0 when no data
    uint32_t plen; // whole PDU length including digests and padding
};
static_assert(sizeof(CommonHeader) == 8);

inline constexpr uint32_t kDigestSize = 4;
inline constexpr uint8_t kDigestHeader = 1u << 0;  // ICReq/ICResp DGST bits
inline constexpr uint8_t kDigestData = 1u << 1;

struct ICReq {
    CommonHeader ch;
    uint16_t pfv;
    uint8_t hpda;   // 0's based dwords of host PDU data alignment
    uint8_t dgst;
    uint32_t maxr2t;  // 0's based
    uint8_t reserved[112];
};
static_assert(sizeof(ICReq) == 128);

struct ICResp {
    CommonHeader ch;
    uint16_t pfv;
    uint8_t cpda;
    uint8_t dgst;
    uint32_t maxh2cdata;
    uint8_t reserved[112];
};
static_assert(sizeof(ICResp) == 128);

// Fatal error status (FES) of a termination request.
enum class TermFes : uint16_t {
    InvalidHeaderField = 1,
    PduSequenceError = 2,
    HeaderDigestError = 3,
    DataOutOfRange = 4,
    DataLimitExceeded = 5,  // R2T limit exceeded / data transfer limit exceeded
    UnsupportedParameter = 6,
};

struct TermReq {
    CommonHeader ch;
    uint16_t fes;
    uint8_t fei[4];  // field error information, unaligned by specification
    uint8_t reserved[10];
};
static_assert(sizeof(TermReq) == 24);
static_assert(offsetof(TermReq, fei) == 10);
inline constexpr uint32_t kTermMaxErrorData = 128;  // bytes of the offending header echoed back

struct CapsuleCmd {
    CommonHeader ch;
    Sqe sqe;
};
static_assert(sizeof(CapsuleCmd) == 72);

struct CapsuleResp {
    CommonHeader ch;
    Cqe cqe;
};
static_assert(sizeof(CapsuleResp) == 24);

// H2CData and C2HData share this layout (TTAG is reserved in C2HData).
struct DataPdu {
    CommonHeader ch;
    uint16_t cccid;
    uint16_t ttag;
    uint32_t datao;
    uint32_t datal;
    uint8_t reserved[4];
};
static_assert(sizeof(DataPdu) == 24);

struct R2T {
    CommonHeader ch;
    uint16_t cccid;
    uint16_t ttag;
    uint32_t r2to;
    uint32_t r2tl;
    uint8_t reserved[4];
};
static_assert(sizeof(R2T) == 24);

// Expected header length per PDU type; anything else is an invalid header field.
constexpr uint8_t header_length(PduType t) {
    switch (t) {
    case PduType::ICReq:
    case PduType::ICResp: return 128;
    case PduType::H2CTermReq:
    case PduType::C2HTermReq: return 24;
    case PduType::CapsuleCmd: return 72;
    case PduType::CapsuleResp:
    case PduType::H2CData:
    case PduType::C2HData:
    case PduType::R2T: return 24;
    }
    return 0;
}

inline constexpr uint32_t kMaxHpda = 31;
inline constexpr uint32_t kMinMaxH2CData = 4096;

}  // namespace nvmfd::proto::tcp
