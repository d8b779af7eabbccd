// I/O errors: the errno table, a file system that fills up (ENOSPC ->
// Capacity Exceeded) while other I/O keeps completing, EIO from a loop device
// whose backing file lost its tail (-> Unrecovered Read Error), and a file
// truncated behind the namespace's back (short read at EOF -> read error).
#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include "plugins/backend_uring/io_errors.hpp"
#include "tests/backend_uring/harness.hpp"

using namespace nvmfd;
using namespace nvmfd::test_uring;
using plugin::IoOp;

TEST_SUITE("errors") {

TEST_CASE("errno to status") {
    using plugins::uring::status_for_errno;
    CHECK(status_for_errno(IoOp::Read, EIO) == IoStatus::ReadError);
    CHECK(status_for_errno(IoOp::Read, EBADMSG) == IoStatus::ReadError);
    CHECK(status_for_errno(IoOp::Write, EIO) == IoStatus::WriteFault);
    CHECK(status_for_errno(IoOp::Flush, EIO) == IoStatus::WriteFault);
    CHECK(status_for_errno(IoOp::WriteZeroes, EIO) == IoStatus::WriteFault);
    CHECK(status_for_errno(IoOp::Deallocate, EIO) == IoStatus::WriteFault);
    CHECK(status_for_errno(IoOp::Write, ENOSPC) == IoStatus::NoSpace);
    CHECK(status_for_errno(IoOp::WriteZeroes, EDQUOT) == IoStatus::NoSpace);
    CHECK(status_for_errno(IoOp::Write, EFBIG) == IoStatus::InvalidRange);
    CHECK(status_for_errno(IoOp::Deallocate, EOPNOTSUPP) == IoStatus::NotSupported);
    CHECK(status_for_errno(IoOp::Read, ECANCELED) == IoStatus::Aborted);
    CHECK(status_for_errno(IoOp::Read, 0) == IoStatus::Ok);
}

TEST_CASE("a full file system: Capacity Exceeded, other I/O keeps completing, space freed by deallocate") {
    if (!running_as_root()) {
        MESSAGE("not root: full file system checks skipped");
        return;
    }
    TempDir tmp;
    auto mnt = TmpfsMount::create(tmp.path() / "small", "1M");
    if (!mnt) return;
    Env env;
    // 8 MiB sparse on a 1 MiB tmpfs: thin provisioning that runs out.
    auto dev = env.open_device({{"path", (mnt->dir() / "thin.img").string()}, {"size", "8M"}, {"create", "true"}});
    MESSAGE(dev->dev().describe());
    CHECK(dev->info().deallocate);

    constexpr size_t kChunk = 64 << 10;
    Buffer out(kChunk), in(kChunk);
    uint64_t written = 0;
    IoResult failed;
    for (uint64_t off = 0; off < (8u << 20); off += kChunk) {
        fill_pattern(out.data(), kChunk, off, 5);
        auto w = dev->write(off, out, kChunk);
        if (w.status != IoStatus::Ok) {
            failed = w;
            break;
        }
        written = off + kChunk;
        // Reads of what is there keep working all along.
        REQUIRE(dev->read(0, in, kChunk).status == IoStatus::Ok);
        CHECK(matches_pattern(in.data(), kChunk, 0, 5));
    }
    CHECK(written > 0);
    CHECK(written < (8u << 20));
    CHECK(failed.status == IoStatus::NoSpace);
    CHECK(failed.error == ENOSPC);
    MESSAGE("full after " << written << " bytes");

    // The namespace keeps serving: reads, flush, and writes to space that exists.
    for (uint64_t off = 0; off < written; off += kChunk) {
        REQUIRE(dev->read(off, in, kChunk).status == IoStatus::Ok);
        CHECK(matches_pattern(in.data(), kChunk, off, 5));
    }
    CHECK(dev->flush().status == IoStatus::Ok);
    dev->check_roundtrip(kChunk, 4096, 6);  // overwrite in place: no new space needed
    // Write zeroes on tmpfs (no FALLOC_FL_ZERO_RANGE there: punches a hole instead).
    REQUIRE(dev->write_zeroes(2 * kChunk, kChunk).status == IoStatus::Ok);
    REQUIRE(dev->read(2 * kChunk, in, kChunk).status == IoStatus::Ok);
    CHECK(all_zero(in.data(), kChunk));
    // Deallocate frees space; the write that failed now succeeds.
    REQUIRE(dev->deallocate({{3 * kChunk, 4 * kChunk}}).status == IoStatus::Ok);
    fill_pattern(out.data(), kChunk, written, 5);
    CHECK(dev->write(written, out, kChunk).status == IoStatus::Ok);
    REQUIRE(dev->read(written, in, kChunk).status == IoStatus::Ok);
    CHECK(matches_pattern(in.data(), kChunk, written, 5));
}

TEST_CASE("EIO from the device: Unrecovered Read Error, the rest of the device still serves") {
    if (!running_as_root()) {
        MESSAGE("not root: EIO checks skipped");
        return;
    }
    TempDir tmp;
    auto loop = LoopDevice::create(tmp.file("failing.img"), 16 << 20);
    if (!loop) return;
    Env env;
    auto dev = env.open_device({{"path", loop->path()}});
    dev->check_roundtrip(1 << 20, 64 << 10, 50);
    // The loop device keeps its 16 MiB; reads past the backing file's new end fail with EIO.
    REQUIRE(::truncate(loop->backing().c_str(), 8 << 20) == 0);
    Buffer in(64 << 10);
    auto r = dev->read(12 << 20, in, 4096);
    CHECK(r.status == IoStatus::ReadError);
    CHECK(r.error == EIO);
    auto r2 = dev->read((8 << 20) - 4096, in, 8192);  // straddles the end
    CHECK(r2.status == IoStatus::ReadError);
    REQUIRE(dev->read(1 << 20, in, 64 << 10).status == IoStatus::Ok);
    CHECK(matches_pattern(in.data(), 64 << 10, 1 << 20, 50));
    dev->check_roundtrip(2 << 20, 8192, 51);
}

TEST_CASE("a file truncated behind the namespace: reads past its end fail, not short") {
    Env env;
    TempDir tmp;
    std::string f = tmp.file("shrunk.img");
    auto dev = env.open_device({{"path", f}, {"size", "1M"}, {"create", "true"}, {"direct", "false"}});
    dev->check_roundtrip(0, 1 << 20, 60);
    REQUIRE(::truncate(f.c_str(), 512 << 10) == 0);
    Buffer in(64 << 10);
    auto past = dev->read(768 << 10, in, 4096);
    CHECK(past.status == IoStatus::ReadError);
    CHECK(past.error == ENODATA);
    auto straddle = dev->read((512 << 10) - 4096, in, 8192);  // a short read, then end of file
    CHECK(straddle.status == IoStatus::ReadError);
    REQUIRE(dev->read(0, in, 64 << 10).status == IoStatus::Ok);
    CHECK(matches_pattern(in.data(), 64 << 10, 0, 60));
}

}  // TEST_SUITE
