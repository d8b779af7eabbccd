// NVMe/RDMA wire formats outside the capsules: the RDMA CM private data a
// host sends with its connect request and the target answers with in its
// accept or reject (NVMe/RDMA transport specification; the same layouts as
// Linux's include/linux/nvme-rdma.h). Capsules themselves are plain SQEs and
// CQEs (nvme.hpp) with Keyed SGL descriptors.
#pragma once

#include <cstddef>
#include <cstdint>

namespace nvmfd::proto::rdma {

inline constexpr uint16_t kCmRecordFormat = 0;  // RECFMT 1.0, the only one defined
inline constexpr uint16_t kDefaultPort = 4420;

// Connect request private data (host to target).
struct CmRequest {
    uint16_t recfmt;
    uint16_t qid;
    uint16_t hrqsize;  // host receive queue size: a count
    uint16_t hsqsize;  // host send queue size: 0's based, like Connect SQSIZE
    uint8_t reserved[24];
} __attribute__((packed));
static_assert(sizeof(CmRequest) == 32);
static_assert(offsetof(CmRequest, qid) == 2);
static_assert(offsetof(CmRequest, hrqsize) == 4);
static_assert(offsetof(CmRequest, hsqsize) == 6);

// Accept private data (target to host).
struct CmReply {
    uint16_t recfmt;
    uint16_t crqsize;  // controller receive queue size: the depth the target accepted
    uint8_t reserved[28];
} __attribute__((packed));
static_assert(sizeof(CmReply) == 32);
static_assert(offsetof(CmReply, crqsize) == 2);

// Why a connect request was refused (CmReject::status).
enum class CmStatus : uint16_t {
    InvalidLength = 0x01,        // private data shorter than CmRequest
    InvalidRecordFormat = 0x02,  // RECFMT is not kCmRecordFormat
    InvalidQid = 0x03,
    InvalidHsqsize = 0x04,
    InvalidHrqsize = 0x05,
    NoResources = 0x06,
    InvalidIrd = 0x07,  // inbound RDMA READ depth
    InvalidOrd = 0x08,  // outbound RDMA READ depth
};

// Reject private data (target to host), sent as a consumer-defined reject.
struct CmReject {
    uint16_t recfmt;
    uint16_t status;  // a CmStatus
} __attribute__((packed));
static_assert(sizeof(CmReject) == 4);
static_assert(offsetof(CmReject, status) == 2);

}  // namespace nvmfd::proto::rdma
