// plugins/nvmet_configfs: paths under a configurable root, values written as
// `echo` writes them, and every errno the kernel may answer with turned into
// a named control error.
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

#include "tests/nvmet_configfs/fake_configfs.hpp"

using namespace nvmfd;
using nvmfd::test::FakeNvmetTree;
using nvmfd::test::FsOp;

namespace {

std::string contents(const std::filesystem::path& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace

TEST_CASE("configfs: the root is configurable and paths are relative to it") {
    FakeNvmetTree t;
    CHECK(t.fs->root() == t.root.string());  // the trailing slash dropped
    CHECK(t.fs->path("subsystems/nqn.x") == t.root.string() + "/subsystems/nqn.x");
    plugins::nvmet::Configfs real;
    CHECK(real.root() == "/sys/kernel/config/nvmet");
}

TEST_CASE("configfs: directories, values and links") {
    FakeNvmetTree t;
    const std::string sub = "subsystems/nqn.2026-11.io.nvmfd:k1";
    REQUIRE(t.fs->make_dir(sub));  // the fake, as nvmet, fills in the attributes
    REQUIRE(t.fs->write(sub + "/attr_allow_any_host", "0"));
    CHECK(contents(t.root / "subsystems/nqn.2026-11.io.nvmfd:k1/attr_allow_any_host") == "0\n");  // as echo writes
    auto v = t.fs->read(sub + "/attr_allow_any_host");
    REQUIRE(v);
    CHECK(*v == "0");

    REQUIRE(t.fs->make_dir("ports/2"));
    REQUIRE(t.fs->write("ports/2/addr_trtype", "tcp"));
    REQUIRE(t.fs->make_dir("ports/1"));
    auto ports = t.fs->list("ports");
    REQUIRE(ports);
    CHECK(*ports == std::vector<std::string>{"1", "2"});  // sorted

    REQUIRE(t.fs->link(sub, "ports/2/subsystems/nqn.2026-11.io.nvmfd:k1"));
    auto link = t.root / "ports/2/subsystems/nqn.2026-11.io.nvmfd:k1";
    CHECK(std::filesystem::is_symlink(link));
    CHECK(std::filesystem::read_symlink(link) == t.root / sub);  // absolute, as configfs wants
    CHECK(t.fs->exists("ports/2/subsystems/nqn.2026-11.io.nvmfd:k1"));
    REQUIRE(t.fs->unlink("ports/2/subsystems/nqn.2026-11.io.nvmfd:k1"));
    CHECK_FALSE(t.fs->exists("ports/2/subsystems/nqn.2026-11.io.nvmfd:k1"));
    REQUIRE(t.fs->remove_dir("ports/1"));
    CHECK_FALSE(t.fs->exists("ports/1"));
}

TEST_CASE("configfs: the kernel's refusals become named errors") {
    FakeNvmetTree t;
    REQUIRE(t.fs->make_dir("subsystems/nqn.a"));
    auto no_such = t.fs->write("subsystems/nqn.a/attr_modle", "Disk", "model");  // a real ENOENT
    REQUIRE_FALSE(no_such);
    CHECK(no_such.error().code == ErrorCode::NotFound);

    auto dup = t.fs->make_dir("subsystems/nqn.a", "nqn");  // a real EEXIST
    REQUIRE_FALSE(dup);
    CHECK(dup.error().code == ErrorCode::AlreadyExists);
    CHECK(dup.error().field == "nqn");
    CHECK(dup.error().message == "nvmet: creating subsystems/nqn.a: File exists");

    auto missing = t.fs->read("subsystems/nqn.b/attr_model", "nqn");  // a real ENOENT
    REQUIRE_FALSE(missing);
    CHECK(missing.error().code == ErrorCode::NotFound);

    t.ops->refuse(FsOp::Write, "subsystems/nqn.a/attr_model", EBUSY);
    auto busy = t.fs->write("subsystems/nqn.a/attr_model", "Disk", "model");
    REQUIRE_FALSE(busy);
    CHECK(busy.error().code == ErrorCode::Busy);
    CHECK(busy.error().field == "model");
    CHECK(busy.error().message == "nvmet: writing 'Disk' to subsystems/nqn.a/attr_model: Device or resource busy");
    CHECK(t.fs->write("subsystems/nqn.a/attr_model", "Disk", "model"));  // injected once only

    t.ops->refuse(FsOp::Link, "ports/1/subsystems/nqn.a", EINVAL);
    auto bad = t.fs->link("subsystems/nqn.a", "ports/1/subsystems/nqn.a", "port");
    REQUIRE_FALSE(bad);
    CHECK(bad.error().code == ErrorCode::InvalidArgument);
    CHECK(bad.error().message.find("linking subsystems/nqn.a as ports/1/subsystems/nqn.a") != std::string::npos);

    t.ops->refuse(FsOp::RemoveDir, "subsystems/nqn.a", EBUSY);
    CHECK(t.fs->remove_dir("subsystems/nqn.a", "nqn").error().code == ErrorCode::Busy);
}

TEST_CASE("configfs: errno to error code") {
    using plugins::nvmet::error_code_for_errno;
    CHECK(error_code_for_errno(EEXIST) == ErrorCode::AlreadyExists);
    CHECK(error_code_for_errno(ENOENT) == ErrorCode::NotFound);
    CHECK(error_code_for_errno(ENODEV) == ErrorCode::NotFound);
    CHECK(error_code_for_errno(EBUSY) == ErrorCode::Busy);
    CHECK(error_code_for_errno(EINVAL) == ErrorCode::InvalidArgument);
    CHECK(error_code_for_errno(ERANGE) == ErrorCode::InvalidArgument);
    CHECK(error_code_for_errno(EACCES) == ErrorCode::PermissionDenied);
    CHECK(error_code_for_errno(EPERM) == ErrorCode::PermissionDenied);
    CHECK(error_code_for_errno(ENOSPC) == ErrorCode::Io);
}
