// Block-device namespaces, on loop devices over sparse files (root only;
// skipped with a message where losetup does not work).
#include <doctest/doctest.h>
#include <cstdlib>
#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include "tests/backend_uring/harness.hpp"

using namespace nvmfd;
using namespace nvmfd::test_uring;

namespace {

bool device_matches(const std::string& dev, uint64_t offset, size_t len, uint32_t seed) {
    Buffer buf(len);
    int fd = ::open(dev.c_str(), O_RDONLY | O_DIRECT);
    REQUIRE(fd >= 0);
    ssize_t n = ::pread(fd, buf.data(), len, static_cast<off_t>(offset));
    ::close(fd);
    return n == static_cast<ssize_t>(len) && matches_pattern(buf.data(), len, offset, seed);
}

}  // namespace

TEST_SUITE("blockdev") {

TEST_CASE("a loop device: geometry, verified I/O, flush, write zeroes, discard, no resize") {
    if (!running_as_root()) {
        MESSAGE("not root: loop-device checks skipped");
        return;
    }
    TempDir tmp;
    auto loop = LoopDevice::create(tmp.file("backing.img"), 64 << 20);
    if (!loop) return;
    Env env;

    auto sized = env.open({{"path", loop->path()}, {"size", "1M"}});
    REQUIRE_FALSE(sized.has_value());
    CHECK(sized.error().field == "size");
    auto created = env.open({{"path", loop->path()}, {"create", "true"}, {"size", "64M"}});
    REQUIRE_FALSE(created.has_value());
    CHECK(created.error().field == "size");

    auto dev = env.open_device({{"path", loop->path()}});
    auto info = dev->info();
    MESSAGE(dev->dev().describe());
    CHECK(info.block_size == 512);  // the loop device's logical block size
    CHECK(info.num_blocks == (64u << 20) / 512);
    CHECK(info.write_zeroes);
    CHECK(info.deallocate);  // loop devices discard
    CHECK_FALSE(info.deallocated_reads_zero);  // the kernel does not promise zeroes after discard
    CHECK(dev->dev().describe().find("block device") != std::string::npos);
    CHECK(dev->dev().describe().find("O_DIRECT") != std::string::npos);
    auto p = dev->dev().persistent_params();
    CHECK(p.at("path") == loop->path());
    CHECK(p.count("size") == 0);

    uint32_t seed = 100;
    for (size_t len : {size_t(512), size_t(4096), size_t(65536 + 512), size_t(2) << 20}) {
        for (uint64_t offset : {uint64_t(0), uint64_t(512 * 7), uint64_t(33) << 20, (uint64_t(64) << 20) - len}) {
            dev->check_roundtrip(offset, len, ++seed, 4096);
            CHECK(dev->flush().status == IoStatus::Ok);
            CHECK(device_matches(loop->path(), offset, len, seed));
        }
    }
    dev->check_roundtrip(8 << 20, 64 << 10, ++seed, 4096, true);  // FUA

    // Write zeroes (blkdev_issue_zeroout through fallocate), with FUA too.
    dev->check_roundtrip(16 << 20, 1 << 20, 200);
    REQUIRE(dev->write_zeroes((16 << 20) + 512, 64 << 10).status == IoStatus::Ok);
    REQUIRE(dev->write_zeroes((16 << 20) + (512 << 10), 4096, true).status == IoStatus::Ok);
    Buffer in(1 << 20);
    REQUIRE(dev->read(16 << 20, in, 1 << 20).status == IoStatus::Ok);
    CHECK(matches_pattern(in.data(), 512, 16 << 20, 200));
    CHECK(all_zero(in.data() + 512, 64 << 10));
    CHECK(matches_pattern(in.data() + 512 + (64 << 10), 4096, (16 << 20) + 512 + (64 << 10), 200));
    CHECK(all_zero(in.data() + (512 << 10), 4096));

    // Discard completes (on the blocking worker); the data is gone from the backing file.
    REQUIRE(dev->deallocate({{20 << 20, 1 << 20}, {(22 << 20) + 512, 4096}}).status == IoStatus::Ok);

    auto resized = dev->dev().resize(128 << 20);
    REQUIRE_FALSE(resized.has_value());
    CHECK(resized.error().code == ErrorCode::NotSupported);
    dev->close();

    // block_size 4096 on a 512-byte device: fine, and still O_DIRECT.
    auto dev4k = env.open_device({{"path", loop->path()}, {"block_size", "4096"}});
    CHECK(dev4k->info().block_size == 4096);
    CHECK(dev4k->info().num_blocks == (64u << 20) / 4096);
    CHECK(dev4k->dev().describe().find("O_DIRECT") != std::string::npos);
    dev4k->check_roundtrip(40 << 20, 3 * 4096, 300);
}

TEST_CASE("a 4K-sector device: default block size, and 512-byte blocks only buffered") {
    if (!running_as_root()) {
        MESSAGE("not root: loop-device checks skipped");
        return;
    }
    TempDir tmp;
    auto loop = LoopDevice::create(tmp.file("backing4k.img"), 16 << 20, 4096);
    if (!loop) return;
    Env env;
    {
        auto dev = env.open_device({{"path", loop->path()}});
        CHECK(dev->info().block_size == 4096);
        dev->check_roundtrip(4096, 8192, 400);
    }
    auto direct = env.open({{"path", loop->path()}, {"block_size", "512"}, {"direct", "true"}});
    REQUIRE_FALSE(direct.has_value());
    CHECK(direct.error().field == "direct");
    MESSAGE(direct.error().describe());

    auto dev = env.open_device({{"path", loop->path()}, {"block_size", "512"}});
    CHECK(dev->info().block_size == 512);
    CHECK(dev->dev().describe().find("buffered") != std::string::npos);
    dev->check_roundtrip(512 * 3, 512 * 5, 401, 512);
    // Zeroing sub-sector ranges has to write zeroes (the last fallback).
    dev->check_roundtrip(1 << 20, 64 << 10, 402);
    REQUIRE(dev->write_zeroes((1 << 20) + 512, 512 * 9).status == IoStatus::Ok);
    REQUIRE(dev->write_zeroes((1 << 20) + (16 << 10), 3 << 20 >> 6, true).status == IoStatus::Ok);
    Buffer in(64 << 10);
    REQUIRE(dev->read(1 << 20, in, 64 << 10).status == IoStatus::Ok);
    CHECK(matches_pattern(in.data(), 512, 1 << 20, 402));
    CHECK(all_zero(in.data() + 512, 512 * 9));
    CHECK(matches_pattern(in.data() + 512 * 10, (16 << 10) - 512 * 10, (1 << 20) + 512 * 10, 402));
    CHECK(all_zero(in.data() + (16 << 10), 3 << 20 >> 6));
    CHECK(dev->flush().status == IoStatus::Ok);
}

TEST_CASE("a mounted device is refused") {
    if (!running_as_root()) {
        MESSAGE("not root: loop-device checks skipped");
        return;
    }
    TempDir tmp;
    auto loop = LoopDevice::create(tmp.file("fs.img"), 16 << 20);
    if (!loop) return;
    fs::path mnt = tmp.path() / "mnt";
    fs::create_directories(mnt);
    if (std::system(("mkfs.ext4 -q -F " + loop->path() + " >/dev/null 2>&1").c_str()) != 0 ||
        ::mount(loop->path().c_str(), mnt.c_str(), "ext4", 0, nullptr) != 0) {
        MESSAGE("cannot make and mount an ext4 file system: mounted-device check skipped");
        return;
    }
    Env env;
    auto busy = env.open({{"path", loop->path()}});
    ::umount2(mnt.c_str(), 0);
    REQUIRE_FALSE(busy.has_value());
    CHECK(busy.error().code == ErrorCode::Busy);
    CHECK(busy.error().field == "path");
    CHECK(busy.error().message.find("mounted") != std::string::npos);
    MESSAGE(busy.error().describe());
    auto free = env.open({{"path", loop->path()}});
    CHECK(free.has_value());
}

}  // TEST_SUITE
