// Writing into a file a D-Bus caller handed over (ExportConfigWithSecrets).
#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <string>

#include "dbus/caller_file.hpp"

using nvmfd::ErrorCode;
using nvmfd::dbus::write_whole_file;

namespace {

std::string contents(int fd) {
    std::string out(256, '\0');
    ssize_t n = ::pread(fd, out.data(), out.size(), 0);
    REQUIRE(n >= 0);
    out.resize(size_t(n));
    return out;
}

}  // namespace

TEST_CASE("a memfd gets exactly the text, replacing longer old contents") {
    int fd = ::memfd_create("caller-file-test", MFD_CLOEXEC);
    REQUIRE(fd >= 0);
    REQUIRE(::write(fd, "old contents that are longer", 28) == 28);
    auto r = write_whole_file(fd, "{\"new\": 1}\n", "file");
    CHECK(r.has_value());
    CHECK(contents(fd) == "{\"new\": 1}\n");
    ::close(fd);
}

TEST_CASE("a pipe is refused, naming the field, and nothing is written to it") {
    int p[2];
    REQUIRE(::pipe(p) == 0);
    auto r = write_whole_file(p[1], "secret", "file");
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == ErrorCode::InvalidArgument);
    CHECK(r.error().field == "file");
    CHECK(r.error().message.find("regular file") != std::string::npos);
    ::close(p[1]);
    char c;
    CHECK(::read(p[0], &c, 1) == 0);  // end of file: no byte went in
    ::close(p[0]);
}

TEST_CASE("a closed descriptor and a read-only file are errors, not crashes") {
    auto closed = write_whole_file(-1, "x", "file");
    REQUIRE_FALSE(closed.has_value());
    CHECK(closed.error().code == ErrorCode::InvalidArgument);

    char path[] = "/tmp/caller-file-test-XXXXXX";
    int w = ::mkstemp(path);
    REQUIRE(w >= 0);
    int ro = ::open(path, O_RDONLY | O_CLOEXEC);
    REQUIRE(ro >= 0);
    auto r = write_whole_file(ro, "x", "file");
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == ErrorCode::Io);
    CHECK(r.error().field == "file");
    ::close(ro);
    ::close(w);
    ::unlink(path);
}
