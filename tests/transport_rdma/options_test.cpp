// [transport.rdma] settings: defaults, accepted values, and errors that name
// the bad key.
#include <doctest/doctest.h>

#include "plugins/transport_rdma/rdma_options.hpp"

using namespace nvmfd;
using namespace nvmfd::plugins::rdma;

namespace {

Error error_of(const plugin::Params& p) {
    auto r = parse_rdma_options(p);
    REQUIRE_MESSAGE(!r.has_value(), "accepted");
    return r.error();
}

}  // namespace

TEST_CASE("rdma options: defaults and accepted values") {
    auto d = parse_rdma_options({});
    REQUIRE(d.has_value());
    CHECK(d->in_capsule_data_size == 8192);
    CHECK(d->max_data_transfer == 1u << 20);
    CHECK(d->max_queue_depth == 128);
    CHECK(d->send_with_invalidate);

    auto o = parse_rdma_options({{"in_capsule_data_size", "4K"},
                                 {"max_data_transfer", "256K"},
                                 {"max_queue_depth", "1024"},
                                 {"max_read_depth", "4"},
                                 {"srq_depth", "4096"},
                                 {"listen_backlog", "16"},
                                 {"connect_timeout_ms", "5000"},
                                 {"send_with_invalidate", "off"}});
    REQUIRE(o.has_value());
    CHECK(o->in_capsule_data_size == 4096);
    CHECK(o->max_data_transfer == 256u << 10);
    CHECK(o->max_queue_depth == 1024);
    CHECK(o->max_read_depth == 4);
    CHECK(o->srq_depth == 4096);
    CHECK(d->srq_depth == 1024);
    CHECK(o->listen_backlog == 16);
    CHECK(o->connect_timeout.count() == 5000);
    CHECK_FALSE(o->send_with_invalidate);
}

TEST_CASE("rdma options: bad values name their key") {
    CHECK(error_of({{"in_capsule_data_size", "32K"}}).field == "in_capsule_data_size");
    CHECK(error_of({{"in_capsule_data_size", "100"}}).field == "in_capsule_data_size");  // not a multiple of 16
    CHECK(error_of({{"max_data_transfer", "3M"}}).field == "max_data_transfer");
    CHECK(error_of({{"max_queue_depth", "1"}}).field == "max_queue_depth");
    CHECK(error_of({{"max_queue_depth", "2048"}}).field == "max_queue_depth");
    CHECK(error_of({{"max_read_depth", "0"}}).field == "max_read_depth");
    CHECK(error_of({{"srq_depth", "63"}}).field == "srq_depth");
    CHECK(error_of({{"srq_depth", "65537"}}).field == "srq_depth");
    CHECK(error_of({{"connect_timeout_ms", "10"}}).field == "connect_timeout_ms");
    CHECK(error_of({{"max_queue_depth", "lots"}}).field == "max_queue_depth");
    CHECK(error_of({{"send_with_invalidate", "maybe"}}).field == "send_with_invalidate");
    Error unknown = error_of({{"srq", "1"}});
    CHECK(unknown.field == "srq");
    CHECK(unknown.message.find("max_queue_depth") != std::string::npos);  // lists what is known
}
