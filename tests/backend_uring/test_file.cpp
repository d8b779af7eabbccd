// File-backed namespaces: verified I/O at many sizes, offsets and iovec
// shapes, flush, FUA, write zeroes, deallocate, resize, deep queues that
// overflow the SQ, several namespaces and reactors on one ring, and channel
// teardown with I/O in flight.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <random>
#include <thread>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/backend_uring/harness.hpp"

using namespace nvmfd;
using namespace nvmfd::test_uring;

namespace {

bool file_matches(const std::string& path, uint64_t offset, size_t len, uint32_t seed) {
    std::vector<uint8_t> buf(len);
    int fd = ::open(path.c_str(), O_RDONLY);
    REQUIRE(fd >= 0);
    ssize_t n = ::pread(fd, buf.data(), len, static_cast<off_t>(offset));
    ::close(fd);
    return n == static_cast<ssize_t>(len) && matches_pattern(buf.data(), len, offset, seed);
}

uint64_t allocated_bytes(const std::string& path) {
    struct stat st{};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    return uint64_t(st.st_blocks) * 512;
}

}  // namespace

TEST_SUITE("file") {

TEST_CASE("verified writes and reads at several sizes, offsets and iovec shapes") {
    for (std::string direct : {"auto", "false"}) {
        CAPTURE(direct);
        Env env;
        TempDir tmp;
        std::string f = tmp.file("data.img");
        auto dev = env.open_device({{"path", f}, {"size", "16M"}, {"create", "true"}, {"direct", direct}});
        MESSAGE(dev->dev().describe());
        const uint64_t size = 16u << 20;
        uint32_t seed = 1;
        for (size_t len : {size_t(512), size_t(4096), size_t(8192 + 512), size_t(65536), size_t(1) << 20,
                           (size_t(3) << 20) + 512}) {
            for (uint64_t offset : {uint64_t(0), uint64_t(512), uint64_t(4096 * 3 + 512), size - len}) {
                for (size_t piece : {size_t(4096), size_t(512), len}) {
                    dev->check_roundtrip(offset, len, ++seed, piece);
                    CHECK(dev->flush().status == IoStatus::Ok);
                    CHECK(file_matches(f, offset, len, seed));
                }
            }
        }
        // More iovecs than one SQE takes (IOV_MAX = 1024): split by the channel.
        dev->check_roundtrip(1 << 20, 1500 * 512, ++seed, 512);
        dev->check_roundtrip(2 << 20, 1100 * 4096, ++seed, 4096);
        // FUA.
        dev->check_roundtrip(8 << 20, 128 << 10, ++seed, 4096, true);
        CHECK(file_matches(f, 8 << 20, 128 << 10, seed));
    }
}

TEST_CASE("out-of-range I/O is refused; the last block is reachable") {
    Env env;
    TempDir tmp;
    auto dev = env.open_device({{"path", tmp.file("r.img")}, {"size", "1M"}, {"create", "true"}});
    Buffer b(8192);
    CHECK(dev->read((1 << 20) - 4096, b, 8192).status == IoStatus::InvalidRange);
    CHECK(dev->write(1 << 20, b, 512).status == IoStatus::InvalidRange);
    CHECK(dev->write_zeroes((1 << 20) - 512, 1024).status == IoStatus::InvalidRange);
    CHECK(dev->deallocate({{0, 4096}, {(1 << 20), 512}}).status == IoStatus::InvalidRange);
    dev->check_roundtrip((1 << 20) - 512, 512, 3);
}

TEST_CASE("write zeroes and deallocate read back zeroes") {
    for (std::string direct : {"auto", "false"}) {
        CAPTURE(direct);
        Env env;
        TempDir tmp;
        std::string f = tmp.file("z.img");
        auto dev = env.open_device({{"path", f}, {"size", "8M"}, {"create", "true"}, {"direct", direct}});
        auto info = dev->info();
        REQUIRE(info.deallocate);
        REQUIRE(info.deallocated_reads_zero);
        const size_t len = 4 << 20;
        dev->check_roundtrip(0, len, 21);
        CHECK(dev->flush().status == IoStatus::Ok);
        uint64_t before = allocated_bytes(f);

        // Write Zeroes on an unaligned middle range, with and without FUA.
        REQUIRE(dev->write_zeroes(512 * 3, 4096 * 5 + 512).status == IoStatus::Ok);
        REQUIRE(dev->write_zeroes(1 << 20, 64 << 10, true).status == IoStatus::Ok);
        Buffer in(len);
        REQUIRE(dev->read(0, in, len).status == IoStatus::Ok);
        CHECK(matches_pattern(in.data(), 512 * 3, 0, 21));
        CHECK(all_zero(in.data() + 512 * 3, 4096 * 5 + 512));
        uint64_t after = 512 * 3 + 4096 * 5 + 512;
        CHECK(matches_pattern(in.data() + after, (1 << 20) - after, after, 21));
        CHECK(all_zero(in.data() + (1 << 20), 64 << 10));
        CHECK(matches_pattern(in.data() + (1 << 20) + (64 << 10), len - (1 << 20) - (64 << 10),
                              (1 << 20) + (64 << 10), 21));

        // Deallocate two ranges (and an empty one): zeroes, and the space is freed.
        REQUIRE(dev->deallocate({{2 << 20, 512 << 10}, {3 << 20, 0}, {(3 << 20) + 4096, 8192}}).status ==
                IoStatus::Ok);
        REQUIRE(dev->read(0, in, len).status == IoStatus::Ok);
        CHECK(matches_pattern(in.data() + (2 << 20) - 4096, 4096, (2 << 20) - 4096, 21));
        CHECK(all_zero(in.data() + (2 << 20), 512 << 10));
        CHECK(matches_pattern(in.data() + (2 << 20) + (512 << 10), 4096, (2 << 20) + (512 << 10), 21));
        CHECK(all_zero(in.data() + (3 << 20) + 4096, 8192));
        CHECK(matches_pattern(in.data() + (3 << 20), 4096, 3 << 20, 21));
        CHECK(dev->flush().status == IoStatus::Ok);
        CHECK(allocated_bytes(f) + (512 << 10) <= before);
    }
}

TEST_CASE("resize grows and shrinks a file-backed namespace") {
    Env env;
    TempDir tmp;
    std::string f = tmp.file("grow.img");
    auto dev = env.open_device({{"path", f}, {"size", "16M"}, {"create", "true"}});
    dev->check_roundtrip(1 << 20, 4096, 5);
    Buffer b(4096);
    CHECK(dev->read(30 << 20, b, 4096).status == IoStatus::InvalidRange);

    auto bad = dev->dev().resize((32 << 20) + 100);
    REQUIRE_FALSE(bad.has_value());
    CHECK(bad.error().field == "size");

    REQUIRE(dev->dev().resize(32 << 20).has_value());
    CHECK(dev->info().num_blocks == (32u << 20) / 512);
    CHECK(fs::file_size(f) == 32u << 20);
    CHECK(dev->read(30 << 20, b, 4096).status == IoStatus::Ok);
    CHECK(all_zero(b.data(), 4096));
    dev->check_roundtrip((32 << 20) - 8192, 8192, 6);
    CHECK(dev->read(32 << 20, b, 4096).status == IoStatus::InvalidRange);

    REQUIRE(dev->dev().resize(8 << 20).has_value());
    CHECK(dev->info().num_blocks == (8u << 20) / 512);
    CHECK(fs::file_size(f) == 8u << 20);
    CHECK(dev->read(10 << 20, b, 4096).status == IoStatus::InvalidRange);
    REQUIRE(dev->read(1 << 20, b, 4096).status == IoStatus::Ok);
    CHECK(matches_pattern(b.data(), 4096, 1 << 20, 5));
}

TEST_CASE("deep queues: thousands of I/Os in one turn, two namespaces on one ring, two reactors") {
    Env env(2);
    TempDir tmp;
    auto a = env.open_device({{"path", tmp.file("a.img")}, {"size", "32M"}, {"create", "true"}});
    auto b = env.open_device({{"path", tmp.file("b.img")}, {"size", "32M"}, {"create", "true"}, {"direct", "false"}});

    // One ring per reactor, shared by both namespaces.
    a->channel(0);
    b->channel(0);
    a->channel(1);
    env.on_reactor(0, [&] { CHECK(env.reactor(0).local("backend.uring") != nullptr); });
    env.on_reactor(1, [&] { CHECK(env.reactor(1).local("backend.uring") != nullptr); });

    // More than the SQ (256 entries) and the cap on operations in flight
    // (4096): the ring submits early and keeps a backlog.
    constexpr size_t kIos = 5000, kLen = 4096;
    std::mt19937_64 rng(42);
    std::vector<uint64_t> blocks(32u << 20 >> 12);
    for (size_t i = 0; i < blocks.size(); ++i) blocks[i] = i;
    std::shuffle(blocks.begin(), blocks.end(), rng);

    for (auto* dev : {a.get(), b.get()}) {
        Buffer data(kIos * kLen);
        std::vector<iovec> iov(kIos);
        std::vector<plugin::BlockIo> ios(kIos);
        for (size_t i = 0; i < kIos; ++i) {
            uint64_t off = blocks[i] * kLen;
            fill_pattern(data.data() + i * kLen, kLen, off, 77);
            iov[i] = iovec{data.data() + i * kLen, kLen};
            ios[i].op = plugin::IoOp::Write;
            ios[i].offset = off;
            ios[i].length = kLen;
            ios[i].iov = &iov[i];
            ios[i].iov_count = 1;
        }
        for (auto& r : env.run(0, dev->channel(0), ios)) {
            CHECK(r.status == IoStatus::Ok);
            CHECK(r.on_reactor_thread);
        }
        // Read back on the other reactor (a) or the same one (b).
        unsigned reader = dev == a.get() ? 1 : 0;
        Buffer back(kIos * kLen);
        for (size_t i = 0; i < kIos; ++i) {
            iov[i] = iovec{back.data() + i * kLen, kLen};
            ios[i].op = plugin::IoOp::Read;
        }
        for (auto& r : env.run(reader, dev->channel(reader), ios)) CHECK(r.status == IoStatus::Ok);
        size_t bad = 0;
        for (size_t i = 0; i < kIos; ++i)
            if (!matches_pattern(back.data() + i * kLen, kLen, blocks[i] * kLen, 77)) ++bad;
        CHECK(bad == 0);
    }
}

TEST_CASE("a sleeping reactor wakes up for completions") {
    // The reactor sleeps in epoll_wait for up to a second when idle; the ring
    // fd in its epoll set must wake it as soon as I/O completes.
    Env env;
    TempDir tmp;
    auto dev = env.open_device({{"path", tmp.file("w.img")}, {"size", "1M"}, {"create", "true"}});
    Buffer b(4096);
    REQUIRE(dev->read(0, b, 4096).status == IoStatus::Ok);  // the ring exists now
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    auto t0 = std::chrono::steady_clock::now();
    constexpr int kRounds = 20;
    for (int i = 0; i < kRounds; ++i) {
        REQUIRE(dev->flush().status == IoStatus::Ok);  // always goes through the kernel
        REQUIRE(dev->read(4096 * i, b, 4096).status == IoStatus::Ok);
    }
    auto per_io = (std::chrono::steady_clock::now() - t0) / (2 * kRounds);
    CHECK(per_io < std::chrono::milliseconds(50));
}

TEST_CASE("channels and devices destroyed from the control thread with I/O in flight") {
    Env env;
    TempDir tmp;
    std::string f = tmp.file("t.img");
    constexpr size_t kIos = 512, kLen = 64 << 10;
    Buffer data(kIos * kLen);
    std::vector<iovec> iov(kIos);
    std::vector<plugin::BlockIo> ios(kIos);
    for (size_t i = 0; i < kIos; ++i) {
        fill_pattern(data.data() + i * kLen, kLen, i * kLen, 9);
        iov[i] = iovec{data.data() + i * kLen, kLen};
        ios[i].op = plugin::IoOp::Write;
        ios[i].offset = i * kLen;
        ios[i].length = kLen;
        ios[i].iov = &iov[i];
        ios[i].iov_count = 1;
    }
    for (int round = 0; round < 3; ++round) {
        auto dev = env.open_device({{"path", f}, {"size", "32M"}, {"create", "true"}});
        plugin::IoChannel& ch = dev->channel(0);
        // Submit on the reactor and, without waiting, tear the namespace down here.
        std::promise<void> submitted;
        std::atomic<size_t> completed{0};
        struct Ctx {
            std::atomic<size_t>* completed;
        } ctx{&completed};
        std::vector<plugin::BlockIo> batch = ios;
        for (auto& io : batch) {
            io.owner = &ctx;
            io.on_complete = [](plugin::BlockIo& io) {
                CHECK((io.status == IoStatus::Ok || io.status == IoStatus::Aborted));
                static_cast<Ctx*>(io.owner)->completed->fetch_add(1);
            };
        }
        env.reactor(0).post([&] {
            for (auto& io : batch) ch.submit(io);
            submitted.set_value();
        });
        submitted.get_future().wait();
        dev->close();
        for (int i = 0; i < 3000 && completed.load() < kIos; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
        CHECK(completed.load() == kIos);
    }
    // The ring is still healthy for the next namespace on the same file.
    auto dev = env.open_device({{"path", f}});
    dev->check_roundtrip(0, 8192, 10);
}

}  // TEST_SUITE
