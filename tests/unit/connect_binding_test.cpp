// TransportQueue::connect_binding: a transport that set a queue up before
// its Fabrics Connect (NVMe/RDMA, from the CM request's QID and queue
// sizes) has Connect refused with Invalid Parameters naming QID or SQSIZE
// (IATTR 0, IPO the SQE offset) when it disagrees, through the same refusal
// path as every other Connect check.
#include <doctest/doctest.h>

#include <cstddef>

#include "core/proto/fabrics.hpp"
#include "tests/unit/queue_pair_fixture.hpp"

using namespace nvmfd;
using namespace nvmfd::test;
namespace status = proto::status;

namespace {

constexpr uint16_t kQidAt = offsetof(proto::ConnectCommand, qid);
constexpr uint16_t kSqsizeAt = offsetof(proto::ConnectCommand, sqsize);

std::optional<Outcome> connect(FakeQueue& q, uint16_t qid, uint16_t sqsize, uint16_t cntlid) {
    auto data = connect_data(cntlid);
    return q.submit(connect_sqe(qid, sqsize, q.data_sgl(uint32_t(data.size()))), data);
}

void check_refused_on(const std::optional<Outcome>& o, uint16_t field_offset) {
    REQUIRE(o);
    CHECK(o->status() == status::kConnectInvalidParameters);
    CHECK(o->status().dnr());
    CHECK(o->cqe.dw0 == proto::connect_invalid_sqe_field(field_offset));
    CHECK(o->error_location == field_offset);
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("an admin Connect on a connection set up for another queue is refused on QID") {
    QueuePairFixture f;
    FakeQueue admin(f, rdma_limits(), plugin::ConnectBinding{.qid = 1, .max_depth = 32});
    check_refused_on(connect(admin, 0, 31, proto::kDynamicControllerId), kQidAt);
    CHECK(admin.installed_depth() == 0);  // nothing was set up
    auto refusals = f.refusals();
    REQUIRE(refusals.size() == 1);
    CHECK(contains(refusals[0], "set up for queue 1"));
}

TEST_CASE("an I/O Connect must name the queue its connection was set up for") {
    QueuePairFixture f;
    FakeQueue admin(f, rdma_limits(), plugin::ConnectBinding{.qid = 0, .max_depth = 32});
    auto cntlid = connect_admin(admin);
    REQUIRE(cntlid);
    FakeQueue wrong(f, rdma_limits(), plugin::ConnectBinding{.qid = 2, .max_depth = 128});
    check_refused_on(connect(wrong, 1, 31, *cntlid), kQidAt);
    CHECK(wrong.installed_depth() == 0);

    // The refused queue took nothing: queue 1 is still free for the right connection.
    FakeQueue right(f, rdma_limits(), plugin::ConnectBinding{.qid = 1, .max_depth = 128});
    auto connected = connect(right, 1, 31, *cntlid);
    REQUIRE(connected);
    CHECK(connected->status().value == 0);
    CHECK(right.installed_depth() == 32);
}

TEST_CASE("a Connect asking for more entries than the connection was set up for is refused on SQSIZE") {
    QueuePairFixture f;
    SUBCASE("admin queue") {
        FakeQueue admin(f, rdma_limits(), plugin::ConnectBinding{.qid = 0, .max_depth = 16});
        check_refused_on(connect(admin, 0, 31, proto::kDynamicControllerId), kSqsizeAt);
        auto refusals = f.refusals();
        REQUIRE(refusals.size() == 1);
        CHECK(contains(refusals[0], "queue size 32"));
        CHECK(contains(refusals[0], "16 entries"));
    }
    SUBCASE("exactly the depth set up is accepted") {
        FakeQueue admin(f, rdma_limits(), plugin::ConnectBinding{.qid = 0, .max_depth = 32});
        auto connected = connect(admin, 0, 31, proto::kDynamicControllerId);
        REQUIRE(connected);
        CHECK(connected->status().value == 0);
        CHECK(admin.installed_depth() == 32);
    }
    SUBCASE("I/O queue") {
        FakeQueue admin(f, rdma_limits(), plugin::ConnectBinding{.qid = 0, .max_depth = 32});
        auto cntlid = connect_admin(admin);
        REQUIRE(cntlid);
        FakeQueue io(f, rdma_limits(), plugin::ConnectBinding{.qid = 1, .max_depth = 64});
        check_refused_on(connect(io, 1, 64, *cntlid), kSqsizeAt);  // 65 entries
        CHECK(io.installed_depth() == 0);
    }
}

TEST_CASE("without a binding (NVMe/TCP) Connect takes any QID and size the other checks allow") {
    QueuePairFixture f;
    FakeQueue admin(f, tcp_limits());
    auto cntlid = connect_admin(admin);
    REQUIRE(cntlid);
    FakeQueue io(f, tcp_limits());
    auto connected = connect(io, 3, 255, *cntlid);
    REQUIRE(connected);
    CHECK(connected->status().value == 0);
    CHECK(io.installed_depth() == 256);
    CHECK(f.refusals().empty());
}
