// The RDMA CM private data layouts (core/proto/rdma.hpp) against the bytes
// Linux's nvme-rdma host sends and expects (include/linux/nvme-rdma.h).
#include <doctest/doctest.h>

#include <array>
#include <cstring>

#include "core/proto/log_pages.hpp"
#include "core/proto/rdma.hpp"

using namespace nvmfd::proto;

TEST_CASE("a connect request reads as the host wrote it") {
    // An I/O queue as nvme_rdma_route_resolved builds it: RECFMT 0, QID 3,
    // HRQSIZE 128 (a count), HSQSIZE 127 (0's based); the rest zero.
    const uint8_t wire[32] = {0x00, 0x00, 0x03, 0x00, 0x80, 0x00, 0x7f, 0x00};
    rdma::CmRequest req;
    std::memcpy(&req, wire, sizeof req);
    // Copied out: doctest would bind a reference to the packed fields.
    CHECK(uint16_t(req.recfmt) == rdma::kCmRecordFormat);
    CHECK(uint16_t(req.qid) == 3);
    CHECK(uint16_t(req.hrqsize) == 128);
    CHECK(uint16_t(req.hsqsize) == 127);
}

TEST_CASE("accept and reject private data are laid out as the host reads them") {
    rdma::CmReply reply{};
    reply.recfmt = rdma::kCmRecordFormat;
    reply.crqsize = 0x0180;
    std::array<uint8_t, 32> reply_bytes;
    std::memcpy(reply_bytes.data(), &reply, sizeof reply);
    CHECK(reply_bytes[0] == 0x00);
    CHECK(reply_bytes[1] == 0x00);
    CHECK(reply_bytes[2] == 0x80);
    CHECK(reply_bytes[3] == 0x01);

    // The host prints the reject's status as "nvme status N" in its log.
    rdma::CmReject reject{rdma::kCmRecordFormat, uint16_t(rdma::CmStatus::InvalidHsqsize)};
    std::array<uint8_t, 4> reject_bytes;
    std::memcpy(reject_bytes.data(), &reject, sizeof reject);
    const std::array<uint8_t, 4> expected{0x00, 0x00, 0x04, 0x00};
    CHECK(reject_bytes == expected);
}

TEST_CASE("reject statuses and TSAS values are the specification's numbers") {
    CHECK(uint16_t(rdma::CmStatus::InvalidLength) == 0x01);
    CHECK(uint16_t(rdma::CmStatus::InvalidRecordFormat) == 0x02);
    CHECK(uint16_t(rdma::CmStatus::InvalidQid) == 0x03);
    CHECK(uint16_t(rdma::CmStatus::InvalidHrqsize) == 0x05);
    CHECK(uint16_t(rdma::CmStatus::NoResources) == 0x06);
    CHECK(uint16_t(rdma::CmStatus::InvalidOrd) == 0x08);

    // What nvmet and SPDK put in an RDMA port's discovery log entry, and
    // nvme-cli prints as "rdma_qptype connected, rdma_prtype not specified,
    // rdma_cms rdma-cm".
    DiscoveryLogEntry e{};
    e.tsas[rdma_tsas::kQptypeOffset] = rdma_tsas::kQptypeConnected;
    e.tsas[rdma_tsas::kPrtypeOffset] = rdma_tsas::kPrtypeNotSpecified;
    e.tsas[rdma_tsas::kCmsOffset] = rdma_tsas::kCmsRdmaCm;
    const uint8_t expected[10] = {1, 1, 1, 0, 0, 0, 0, 0, 0, 0};
    CHECK(std::memcmp(e.tsas, expected, sizeof expected) == 0);
    CHECK(rdma_tsas::kPkeyOffset == 8);
    CHECK(rdma_tsas::kPrtypeRoceV2 == 4);
    CHECK(rdma_tsas::kPrtypeIwarp == 5);
}
