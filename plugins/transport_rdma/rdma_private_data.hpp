// The RDMA CM private data of NVMe/RDMA: checking a host's connect request
// and building the accept and reject answers (formats in core/proto/rdma.hpp).
// No verbs here, so that the rules are unit-tested on any machine.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

#include "core/proto/rdma.hpp"
#include "core/runtime/expected.hpp"

namespace nvmfd::plugins::rdma {

// What the target allows; the admin queue has its own, smaller bound.
struct QueueDepthLimits {
    uint32_t admin = 32;  // NVME_AQ_DEPTH: the Linux host asks for exactly this
    uint32_t io = 128;
};

// A connect request that passed the checks.
struct QueueRequest {
    uint16_t qid;
    uint32_t depth;         // commands the host may have outstanding: HSQSIZE + 1
    uint32_t host_receives; // HRQSIZE: responses the host has room for at a time
};

// The private data a host sent with its connect request (as the RDMA CM
// delivers it: on RoCE and InfiniBand zero-padded to the CM's whole private
// data area, so a short request is only seen on iWARP).
nvmfd::expected<QueueRequest, proto::rdma::CmStatus> check_connect_request(std::span<const uint8_t> data,
                                                                            const QueueDepthLimits& limits);

std::array<uint8_t, sizeof(proto::rdma::CmReply)> make_reply(uint32_t accepted_depth);
std::array<uint8_t, sizeof(proto::rdma::CmReject)> make_reject(proto::rdma::CmStatus status);

// For logs: "INVALID_HSQSIZE" and so on, as the kernel names them.
std::string_view cm_status_name(proto::rdma::CmStatus status);

}  // namespace nvmfd::plugins::rdma
