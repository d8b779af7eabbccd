#include <doctest/doctest.h>

#include <string>

#include "core/proto/status.hpp"

using namespace nvmfd::proto;

TEST_CASE("status values encode into the CQE status word and back") {
    // Connect Invalid Host with DNR: Linux logs this as 0x4184.
    Status s = status::kConnectInvalidHost.with_dnr();
    CHECK(s.sct() == StatusCodeType::CommandSpecific);
    CHECK(s.sc() == 0x84);
    CHECK(s.cqe_status() == ((0x184 << 1) | 0x8000));
    Status back = Status::from_cqe(s.cqe_status());
    CHECK(back == s);
    CHECK(back.dnr());
    CHECK(status::kSuccess.cqe_status() == 0);
    CHECK_FALSE(status::kAnaInaccessible.dnr());
    CHECK(std::string(status_name(status::kLbaOutOfRange)) == "LBA out of range");
}
