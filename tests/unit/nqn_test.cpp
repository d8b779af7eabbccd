#include <doctest/doctest.h>

#include <string>

#include "core/target/nqn.hpp"

using nvmfd::target::is_valid_nqn;
using nvmfd::target::nqn_problem;

TEST_CASE("valid NQNs") {
    CHECK(is_valid_nqn("nqn.2026-11.io.nvmfd:db1"));
    CHECK(is_valid_nqn("nqn.2014-08.org.nvmexpress.discovery"));
    CHECK(is_valid_nqn("nqn.2014-08.org.nvmexpress:uuid:01234567-89ab-cdef-0123-456789abcdef"));
    CHECK(is_valid_nqn("nqn.1999-01.com.example"));
    CHECK(is_valid_nqn("nqn.2026-11.io.nvmfd:any string, even with spaces and : colons"));
}

TEST_CASE("invalid NQNs say why") {
    CHECK(nqn_problem("")->find("empty") != std::string::npos);
    CHECK(nqn_problem("iqn.2026-11.io.nvmfd:x")->find("nqn.") != std::string::npos);
    CHECK(nqn_problem("nqn.26-11.io.nvmfd:x")->find("yyyy-mm") != std::string::npos);
    CHECK(nqn_problem("nqn.2026-13.io.nvmfd:x")->find("month") != std::string::npos);
    CHECK(nqn_problem("nqn.2026-11.:x")->find("domain") != std::string::npos);
    CHECK(nqn_problem("nqn.2026-11.io..nvmfd:x")->find("empty label") != std::string::npos);
    CHECK(nqn_problem("nqn.2026-11.io_x.nvmfd:x")->find("'_'") != std::string::npos);
    CHECK(nqn_problem("nqn.2026-11.io.nvmfd:")->find("nothing after") != std::string::npos);
    CHECK(nqn_problem("nqn.2014-08.org.nvmexpress:uuid:not-a-uuid")->find("UUID") != std::string::npos);
    CHECK(nqn_problem("nqn.2026-11.io.nvmfd:a\tb")->find("control") != std::string::npos);
}

TEST_CASE("the 223-byte limit") {
    std::string base = "nqn.2026-11.io.nvmfd:";
    std::string ok = base + std::string(223 - base.size(), 'x');
    CHECK(is_valid_nqn(ok));
    CHECK(nqn_problem(ok + "x")->find("223") != std::string::npos);
}
