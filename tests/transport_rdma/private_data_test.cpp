// The NVMe/RDMA connect request checks and the accept/reject private data,
// against the layouts of Linux's include/linux/nvme-rdma.h (byte offsets
// spelled out here, not taken from our own structs).
#include <doctest/doctest.h>

#include <cstring>
#include <vector>

#include "plugins/transport_rdma/rdma_private_data.hpp"

using namespace nvmfd;
using namespace nvmfd::plugins::rdma;
using proto::rdma::CmStatus;

namespace {

void put16(std::vector<uint8_t>& b, size_t at, uint16_t v) {
    b[at] = uint8_t(v);
    b[at + 1] = uint8_t(v >> 8);
}

// As the Linux host builds it (nvme_rdma_route_resolved), padded as the
// RDMA CM delivers it on RoCE.
std::vector<uint8_t> request(uint16_t qid, uint16_t hrqsize, uint16_t hsqsize, uint16_t recfmt = 0,
                             size_t size = 56) {
    std::vector<uint8_t> b(size, 0);
    put16(b, 0, recfmt);
    put16(b, 2, qid);
    put16(b, 4, hrqsize);
    put16(b, 6, hsqsize);
    return b;
}

CmStatus refusal(const std::vector<uint8_t>& b, QueueDepthLimits limits = {}) {
    auto r = check_connect_request(b, limits);
    REQUIRE_MESSAGE(!r.has_value(), "the request was accepted");
    return r.error();
}

}  // namespace

TEST_CASE("the Linux host's admin and I/O queue requests are accepted with their depths") {
    auto admin = check_connect_request(request(0, 32, 31), {});
    REQUIRE(admin.has_value());
    CHECK(admin->qid == 0);
    CHECK(admin->depth == 32);
    CHECK(admin->host_receives == 32);

    auto io = check_connect_request(request(3, 128, 127), {});
    REQUIRE(io.has_value());
    CHECK(io->qid == 3);
    CHECK(io->depth == 128);
    CHECK(io->host_receives == 128);

    // Exactly the 32 bytes of the format (iWARP delivers the exact length).
    CHECK(check_connect_request(request(1, 16, 15, 0, 32), {}).has_value());
}

TEST_CASE("bad connect requests get the status the spec names") {
    CHECK(refusal(request(1, 16, 15, 0, 31)) == CmStatus::InvalidLength);
    CHECK(refusal({}) == CmStatus::InvalidLength);
    CHECK(refusal(request(1, 16, 15, 1)) == CmStatus::InvalidRecordFormat);
    CHECK(refusal(request(1, 16, 0)) == CmStatus::InvalidHsqsize);  // a one-entry queue
    CHECK(refusal(request(1, 0, 15)) == CmStatus::InvalidHrqsize);
}

TEST_CASE("queue depth bounds: the admin queue's and the I/O queues' apart") {
    QueueDepthLimits limits{.admin = 32, .io = 64};
    CHECK(check_connect_request(request(0, 32, 31), limits).has_value());
    CHECK(refusal(request(0, 33, 32), limits) == CmStatus::InvalidHsqsize);
    CHECK(check_connect_request(request(1, 64, 63), limits).has_value());
    CHECK(refusal(request(1, 65, 64), limits) == CmStatus::InvalidHsqsize);
    CHECK(refusal(request(1, 65535, 65535), limits) == CmStatus::InvalidHsqsize);  // no 16-bit wrap
}

TEST_CASE("accept and reject private data have the kernel's layout") {
    auto rep = make_reply(128);
    REQUIRE(rep.size() == 32);
    CHECK(rep[0] == 0);  // RECFMT 0
    CHECK(rep[1] == 0);
    CHECK(rep[2] == 128);  // CRQSIZE, little endian
    CHECK(rep[3] == 0);
    for (size_t i = 4; i < rep.size(); ++i) CHECK(rep[i] == 0);
    CHECK(make_reply(1024)[3] == 4);
    CHECK(make_reply(70000)[2] == 0xff);  // clamped, never wrapped
    CHECK(make_reply(70000)[3] == 0xff);

    auto rej = make_reject(CmStatus::InvalidHsqsize);
    REQUIRE(rej.size() == 4);
    CHECK(rej[0] == 0);
    CHECK(rej[1] == 0);
    CHECK(rej[2] == 0x04);
    CHECK(rej[3] == 0);
    CHECK(make_reject(CmStatus::NoResources)[2] == 0x06);
}

TEST_CASE("reject statuses are named as the kernel's host prints them") {
    CHECK(cm_status_name(CmStatus::InvalidHsqsize) == "INVALID_HSQSIZE");
    CHECK(cm_status_name(CmStatus::NoResources) == "NO_RSC");
    CHECK(cm_status_name(static_cast<CmStatus>(0x99)) == "unknown");
}
