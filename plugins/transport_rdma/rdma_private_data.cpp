#include "plugins/transport_rdma/rdma_private_data.hpp"

#include <algorithm>
#include <cstring>

namespace nvmfd::plugins::rdma {

using proto::rdma::CmStatus;

nvmfd::expected<QueueRequest, CmStatus> check_connect_request(std::span<const uint8_t> data,
                                                               const QueueDepthLimits& limits) {
    proto::rdma::CmRequest req;
    if (data.size() < sizeof req) return nvmfd::unexpected(CmStatus::InvalidLength);
    std::memcpy(&req, data.data(), sizeof req);
    if (req.recfmt != proto::rdma::kCmRecordFormat) return nvmfd::unexpected(CmStatus::InvalidRecordFormat);
    // HSQSIZE is 0's based like Connect's SQSIZE, so 0 is a one-entry queue,
    // which NVMe does not allow (a full queue would look empty).
    uint32_t depth = uint32_t(req.hsqsize) + 1;
    uint32_t max = req.qid == 0 ? limits.admin : limits.io;
    if (req.hsqsize == 0 || depth > max) return nvmfd::unexpected(CmStatus::InvalidHsqsize);
    if (req.hrqsize == 0) return nvmfd::unexpected(CmStatus::InvalidHrqsize);
    return QueueRequest{req.qid, depth, req.hrqsize};
}

std::array<uint8_t, sizeof(proto::rdma::CmReply)> make_reply(uint32_t accepted_depth) {
    proto::rdma::CmReply rep{};
    rep.recfmt = proto::rdma::kCmRecordFormat;
    rep.crqsize = static_cast<uint16_t>(std::min<uint32_t>(accepted_depth, UINT16_MAX));
    std::array<uint8_t, sizeof rep> out;
    std::memcpy(out.data(), &rep, sizeof rep);
    return out;
}

std::array<uint8_t, sizeof(proto::rdma::CmReject)> make_reject(CmStatus status) {
    proto::rdma::CmReject rej{};
    rej.recfmt = proto::rdma::kCmRecordFormat;
    rej.status = static_cast<uint16_t>(status);
    std::array<uint8_t, sizeof rej> out;
    std::memcpy(out.data(), &rej, sizeof rej);
    return out;
}

std::string_view cm_status_name(CmStatus status) {
    switch (status) {
    case CmStatus::InvalidLength: return "INVALID_LEN";
    case CmStatus::InvalidRecordFormat: return "INVALID_RECFMT";
    case CmStatus::InvalidQid: return "INVALID_QID";
    case CmStatus::InvalidHsqsize: return "INVALID_HSQSIZE";
    case CmStatus::InvalidHrqsize: return "INVALID_HRQSIZE";
    case CmStatus::NoResources: return "NO_RSC";
    case CmStatus::InvalidIrd: return "INVALID_IRD";
    case CmStatus::InvalidOrd: return "INVALID_ORD";
    }
    return "unknown";
}

}  // namespace nvmfd::plugins::rdma
