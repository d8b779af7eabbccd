// Opening namespaces: parameter validation, file creation and extension,
// what is persisted, and the errors an admin sees (each naming its field).
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/backend_uring/harness.hpp"

using namespace nvmfd;
using namespace nvmfd::test_uring;

namespace {

Error open_error(Env& env, const plugin::Params& params) {
    auto r = env.open(params);
    REQUIRE_MESSAGE(!r.has_value(), "open succeeded unexpectedly");
    MESSAGE(r.error().describe());
    return r.error();
}

void make_file(const std::string& path, uint64_t size) {
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
    REQUIRE(fd >= 0);
    REQUIRE(::ftruncate(fd, static_cast<off_t>(size)) == 0);
    ::close(fd);
}

}  // namespace

TEST_SUITE("params") {

TEST_CASE("invalid parameters are refused, naming the field") {
    Env env;
    TempDir tmp;
    std::string f = tmp.file("a.img");
    make_file(f, 1 << 20);

    CHECK(open_error(env, {}).field == "path");
    CHECK(open_error(env, {{"path", ""}}).field == "path");
    CHECK(open_error(env, {{"path", f}, {"blocksize", "512"}}).field == "blocksize");
    CHECK(open_error(env, {{"path", f}, {"block_size", "1000"}}).field == "block_size");
    CHECK(open_error(env, {{"path", f}, {"block_size", "2048"}}).field == "block_size");
    CHECK(open_error(env, {{"path", f}, {"block_size", "big"}}).field == "block_size");
    CHECK(open_error(env, {{"path", f}, {"direct", "maybe"}}).field == "direct");
    CHECK(open_error(env, {{"path", f}, {"read_only", "perhaps"}}).field == "read_only");
    CHECK(open_error(env, {{"path", f}, {"size", "12Q"}}).field == "size");
    CHECK(open_error(env, {{"path", f}, {"size", "0"}}).field == "size");
    CHECK(open_error(env, {{"path", f}, {"size", "1000"}}).field == "size");  // not a multiple of 512
    CHECK(open_error(env, {{"path", f}, {"size", "6K"}, {"block_size", "4096"}}).field == "size");
    CHECK(open_error(env, {{"path", f}, {"create", "true"}}).field == "size");
    CHECK(open_error(env, {{"path", f}, {"create", "true"}, {"size", "1M"}, {"read_only", "true"}}).field ==
          "create");
}

TEST_CASE("open errors: missing file, directory, not a file, empty file") {
    Env env;
    TempDir tmp;

    auto missing = open_error(env, {{"path", tmp.file("none.img")}});
    CHECK(missing.field == "path");
    CHECK(missing.code == ErrorCode::NotFound);
    auto missing_sized = open_error(env, {{"path", tmp.file("none.img")}, {"size", "1M"}});
    CHECK(missing_sized.field == "path");
    CHECK(missing_sized.message.find("create=true") != std::string::npos);
    CHECK_FALSE(fs::exists(tmp.file("none.img")));

    auto dir = open_error(env, {{"path", tmp.path().string()}});
    CHECK(dir.field == "path");
    CHECK(dir.message.find("directory") != std::string::npos);

    auto chr = open_error(env, {{"path", "/dev/null"}});
    CHECK(chr.field == "path");
    CHECK(chr.message.find("neither a regular file nor a block device") != std::string::npos);

    make_file(tmp.file("empty.img"), 0);
    auto empty = open_error(env, {{"path", tmp.file("empty.img")}});
    CHECK(empty.field == "size");

    make_file(tmp.file("tiny.img"), 4096);
    CHECK(open_error(env, {{"path", tmp.file("tiny.img")}, {"block_size", "4096"}, {"size", "2K"}}).field == "size");

    // A file we cannot create (parent directory missing) is not left half made.
    auto nodir = open_error(env, {{"path", tmp.file("no/such/dir.img")}, {"create", "true"}, {"size", "1M"}});
    CHECK(nodir.field == "path");
}

TEST_CASE("create, extend, never truncate; persistent parameters reopen the same file") {
    Env env;
    TempDir tmp;
    std::string f = tmp.file("new.img");
    plugin::Params persisted;
    {
        auto dev = env.open_device({{"path", f}, {"size", "4M"}, {"create", "true"}});
        auto info = dev->info();
        CHECK(info.block_size == 512);
        CHECK(info.num_blocks == (4u << 20) / 512);
        CHECK_FALSE(info.read_only);
        CHECK(info.volatile_write_cache);
        CHECK(info.write_zeroes);
        CHECK(info.deallocate);
        CHECK(info.deallocated_reads_zero);
        struct stat st{};
        REQUIRE(::stat(f.c_str(), &st) == 0);
        CHECK(st.st_size == 4 << 20);
        CHECK((st.st_mode & 0777) == 0600);
        persisted = dev->dev().persistent_params();
        MESSAGE(dev->dev().describe());
        CHECK(dev->dev().describe().find(f) != std::string::npos);
        dev->check_roundtrip(3 << 20, 8192, 7);
    }
    CHECK(persisted.count("size") == 0);
    CHECK(persisted.count("create") == 0);
    CHECK(persisted.at("path") == f);
    CHECK(persisted.at("block_size") == "512");
    CHECK(persisted.at("direct") == "auto");
    CHECK(persisted.at("read_only") == "false");
    {
        // Reopened as after a restart: same size, same data.
        auto dev = env.open_device(persisted);
        CHECK(dev->info().num_blocks == (4u << 20) / 512);
        Buffer in(8192);
        REQUIRE(dev->read(3 << 20, in, 8192).status == IoStatus::Ok);
        CHECK(matches_pattern(in.data(), 8192, 3 << 20, 7));
    }
    {
        // A smaller size never truncates; a larger one extends.
        auto small = env.open_device({{"path", f}, {"size", "1M"}});
        CHECK(small->info().num_blocks == (4u << 20) / 512);
    }
    {
        auto big = env.open_device({{"path", f}, {"size", "8M"}, {"create", "true"}});
        CHECK(big->info().num_blocks == (8u << 20) / 512);
        CHECK(fs::file_size(f) == 8u << 20);
        Buffer in(8192);
        REQUIRE(big->read(3 << 20, in, 8192).status == IoStatus::Ok);
        CHECK(matches_pattern(in.data(), 8192, 3 << 20, 7));
    }
}

TEST_CASE("a relative path is stored absolute; block_size 4096; direct=false") {
    Env env;
    TempDir tmp;
    make_file(tmp.file("rel.img"), 1 << 20);
    auto cwd = fs::current_path();
    fs::current_path(tmp.path());
    auto dev = env.open(plugin::Params{{"path", "rel.img"}, {"block_size", "4096"}, {"direct", "false"}});
    fs::current_path(cwd);
    REQUIRE_MESSAGE(dev.has_value(), (dev ? "" : dev.error().describe()));
    Device d(env, std::move(*dev));
    auto p = d.dev().persistent_params();
    CHECK(p.at("path") == tmp.file("rel.img"));
    CHECK(p.at("direct") == "false");
    CHECK(p.at("block_size") == "4096");
    CHECK(d.info().block_size == 4096);
    CHECK(d.info().num_blocks == 256);
    CHECK(d.dev().describe().find("buffered") != std::string::npos);
    d.check_roundtrip(4096 * 5, 4096 * 3, 11);
}

TEST_CASE("read-only namespaces") {
    Env env;
    TempDir tmp;
    std::string f = tmp.file("ro.img");
    make_file(f, 1 << 20);
    CHECK(open_error(env, {{"path", f}, {"read_only", "true"}, {"size", "2M"}}).field == "size");
    auto dev = env.open_device({{"path", f}, {"read_only", "true"}});
    auto info = dev->info();
    CHECK(info.read_only);
    CHECK_FALSE(info.deallocate);
    CHECK(dev->dev().persistent_params().at("read_only") == "true");
    Buffer b(4096);
    CHECK(dev->read(0, b, 4096).status == IoStatus::Ok);
    auto w = dev->write(0, b, 4096);
    CHECK(w.status == IoStatus::WriteFault);
    CHECK(w.error == EROFS);
    CHECK(dev->flush().status == IoStatus::Ok);
    auto resized = dev->dev().resize(2 << 20);
    CHECK_FALSE(resized.has_value());
}

}  // TEST_SUITE
