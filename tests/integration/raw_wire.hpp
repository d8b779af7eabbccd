// Small helpers for tests that speak NVMe/TCP byte by byte through
// tools/host's RawConnection: SGLs placed by hand, the transport parameters
// an ICResp granted, and the next CapsuleResp.
#pragma once

#include <doctest/doctest.h>

#include <chrono>
#include <cstddef>
#include <cstdint>

#include "core/proto/nvme.hpp"
#include "core/proto/tcp_pdu.hpp"
#include "tools/host/raw_connection.hpp"
#include "tools/host/transport_params.hpp"

namespace nvmfd::testing {

inline host::TransportParams params_from(const proto::tcp::ICResp& r, const host::TransportOptions& asked) {
    host::TransportParams p;
    p.hpda = asked.hpda;
    p.cpda = r.cpda;
    p.header_digest = r.dgst & proto::tcp::kDigestHeader;
    p.data_digest = r.dgst & proto::tcp::kDigestData;
    p.maxh2cdata = r.maxh2cdata;
    return p;
}

// The command's data rides in the capsule.
inline proto::Sqe in_capsule(proto::Sqe sqe, size_t len) {
    sqe.sgl = {};
    sqe.sgl.type = proto::sgl::kInCapsule;
    sqe.sgl.length = static_cast<uint32_t>(len);
    return sqe;
}

// The command's data moves by R2T/H2CData or C2HData.
inline proto::Sqe via_transport(proto::Sqe sqe, size_t len) {
    sqe.sgl = {};
    sqe.sgl.type = proto::sgl::kTransport;
    sqe.sgl.length = static_cast<uint32_t>(len);
    return sqe;
}

// The next PDU must be a CapsuleResp; its CQE.
inline proto::Cqe expect_response(host::RawConnection& r,
                                  std::chrono::milliseconds timeout = std::chrono::milliseconds(5000)) {
    auto pdu = r.receive_pdu(timeout);
    REQUIRE(pdu);
    REQUIRE(pdu->header.type == proto::tcp::PduType::CapsuleResp);
    return pdu->as<proto::tcp::CapsuleResp>().cqe;
}

}  // namespace nvmfd::testing
