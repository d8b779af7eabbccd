// A reactor's queue pair on a drive, end to end without VFIO (issue 13):
// BlockIos of many sizes and offsets through a small queue (so that they
// split at MDTS and wait for slots) against a simulated drive with a RAM
// disk reached through PRPs; the data comes back as written; drive errors,
// unmapped memory and ranges past the end complete with their status.
#include <doctest/doctest.h>

#include <cstdlib>
#include <memory>
#include <random>
#include <utility>

#include "core/proto/status.hpp"
#include "plugins/backend_pcie/drive_queue.hpp"
#include "tests/backend_pcie/sim_drive.hpp"

using namespace nvmfd::plugins::pcie;
using nvmfd::plugin::BlockIo;
using nvmfd::plugin::ByteRange;
using nvmfd::plugin::IoOp;
using nvmfd::plugin::IoStatus;
using nvmfd::test::SimDrive;

namespace {

constexpr uint32_t kPage = 4096;
constexpr uint64_t kDataIova = 0x1'0000'0000ull;
constexpr uint64_t kListIova = 0x2'0000'0000ull;

struct Pages {
    uint8_t* base;
    size_t count;
    explicit Pages(size_t n) : base(static_cast<uint8_t*>(std::aligned_alloc(kPage, n * kPage))), count(n) {
        std::memset(base, 0, n * kPage);
    }
    ~Pages() { std::free(base); }
};

struct Translator final : DmaTranslator {
    const Pages& data;
    explicit Translator(const Pages& d) : data(d) {}
    std::optional<uint64_t> iova(const void* p, uint64_t len) const override {
        auto* b = static_cast<const uint8_t*>(p);
        if (b < data.base || b + len > data.base + data.count * kPage) return std::nullopt;
        return kDataIova + uint64_t(b - data.base);
    }
};

struct Rig {
    SimDrive drive;
    Pages data{1024};  // 4 MiB of "pool" pages
    Pages lists;
    Translator dma{data};
    std::vector<PrpListPage> slot_pages;
    std::unique_ptr<DriveQueue> q;
    DriveShape fitted;

    Rig(uint16_t entries, DriveShape shape, SglUse sgl = {})
        : drive(entries, shape.block_size, shape.num_blocks), lists(entries) {
        drive.map(kDataIova, data.base, data.count * kPage);
        drive.map(kListIova, lists.base, lists.count * kPage);
        for (uint16_t i = 0; i + 1 < entries; ++i)
            slot_pages.push_back({reinterpret_cast<uint64_t*>(lists.base + i * kPage), kListIova + i * kPage});
        q = std::make_unique<DriveQueue>(
            QueueMemory{drive.q.sq.data(), drive.q.cq.data(), entries, &drive.q.sq_doorbell, &drive.q.cq_doorbell},
            slot_pages, dma, std::chrono::seconds(10), kPage, "pcie", sgl);
        fitted = q->fit(shape);
    }
    void submit(BlockIo& io) { q->submit(io, fitted); }
    // Runs the drive and the queue until nothing is in flight or waiting.
    void settle() {
        for (int i = 0; i < 100000 && (q->commands_in_flight() || q->waiting()); ++i) {
            q->flush();
            drive.q.run();
            q->poll();
        }
        REQUIRE(q->commands_in_flight() == 0);
        REQUIRE(q->waiting() == 0);
    }
};

DriveShape shape() {
    DriveShape d;
    d.block_size = 512;
    d.num_blocks = 32768;  // 16 MiB
    d.piece_bytes = 128 * 1024;  // QEMU's MDTS 5 with 4 KiB pages: plenty of splits
    d.volatile_write_cache = true;
    d.write_zeroes = true;
    d.deallocate = true;
    return d;
}

struct Op {
    BlockIo io;
    std::vector<iovec> iov;
    IoStatus got = IoStatus::Aborted;
    uint16_t device_status = 0;
    bool done = false;
    int completions = 0;
};

void on_done(BlockIo& io) {
    auto* op = static_cast<Op*>(io.owner);
    op->got = io.status;
    op->device_status = io.device_status;
    op->done = true;
    ++op->completions;
}

// A BlockIo over pool pages starting at page `first`, in iovecs of
// `iov_bytes` (a pool merges adjacent pages into one iovec).
void setup(Op& op, Rig& r, IoOp kind, uint64_t offset, uint64_t length, size_t first_page, uint64_t iov_bytes = kPage) {
    op.io.op = kind;
    op.io.offset = offset;
    op.io.length = length;
    op.iov.clear();
    for (uint64_t done = 0; done < length; done += iov_bytes)
        op.iov.push_back({r.data.base + first_page * kPage + done, std::min<uint64_t>(iov_bytes, length - done)});
    op.io.iov = op.iov.data();
    op.io.iov_count = uint32_t(op.iov.size());
    op.io.on_complete = on_done;
    op.io.owner = &op;
}

}  // namespace

// Rounds of up to four concurrent writes of up to 1 MiB to distinct
// regions, then reads of them all: the data must come back as written.
void write_then_read(Rig& r, int rounds, uint64_t iov_bytes = kPage) {
    std::mt19937_64 rng(42);
    for (int round = 0; round < rounds; ++round) {
        // Up to four concurrent writes to distinct regions, then read them all back.
        std::vector<Op> ops(4);
        std::vector<std::pair<uint64_t, uint64_t>> where;
        for (size_t i = 0; i < ops.size(); ++i) {
            const uint64_t blocks = 1 + rng() % 2048;  // up to 1 MiB
            const uint64_t lba = (i * 8192) + rng() % (8192 - blocks);
            where.push_back({lba * 512, blocks * 512});
            setup(ops[i], r, IoOp::Write, lba * 512, blocks * 512, i * 256, iov_bytes);
            for (uint64_t b = 0; b < blocks * 512; ++b) r.data.base[i * 256 * kPage + b] = uint8_t(rng());
            r.submit(ops[i].io);
        }
        r.settle();
        std::vector<std::vector<uint8_t>> written;
        for (size_t i = 0; i < ops.size(); ++i) {
            CHECK(ops[i].got == IoStatus::Ok);
            written.emplace_back(r.data.base + i * 256 * kPage, r.data.base + i * 256 * kPage + where[i].second);
            CHECK(std::memcmp(r.drive.disk.data() + where[i].first, written[i].data(), where[i].second) == 0);
        }
        std::memset(r.data.base, 0, r.data.count * kPage);
        for (size_t i = 0; i < ops.size(); ++i) {
            setup(ops[i], r, IoOp::Read, where[i].first, where[i].second, i * 256, iov_bytes);
            r.submit(ops[i].io);
        }
        r.settle();
        for (size_t i = 0; i < ops.size(); ++i) {
            CHECK(ops[i].got == IoStatus::Ok);
            CHECK(std::memcmp(r.data.base + i * 256 * kPage, written[i].data(), where[i].second) == 0);
        }
    }
}

TEST_CASE("drive queue: writes and reads of many sizes through 7 slots, split at MDTS, come back as written") {
    Rig r(8, shape());
    write_then_read(r, 30);
    CHECK(r.drive.commands > 240);  // 240 BlockIos and their splits
    CHECK(r.drive.sgl_commands == 0);  // sgl=off, or a drive without SGLs: PRPs only
}

TEST_CASE("drive queue: with sgl=on every data command goes to the drive as an SGL, and the data comes back") {
    Rig r(8, shape(), SglUse{SglPolicy::Always, SglSupport::Any});
    write_then_read(r, 10);
    CHECK(r.drive.sgl_commands > 80);
    CHECK(r.drive.prp_commands == 0);
    CHECK(r.q->sgl_commands() == r.drive.sgl_commands);  // what the queue pair logs when it closes
    CHECK(r.q->prp_commands() == 0);
}

TEST_CASE("drive queue: with sgl=auto, 4 KiB pieces go as PRPs and large ones as SGLs") {
    Rig r(8, shape(), SglUse{SglPolicy::Large, SglSupport::Any});
    write_then_read(r, 5);  // a page per iovec: 4 KiB on average
    CHECK(r.drive.sgl_commands == 0);
    const uint64_t prps = r.drive.prp_commands;
    CHECK(prps > 40);
    write_then_read(r, 5, 1 << 20);  // one iovec each: pieces of up to 128 KiB (MDTS)
    CHECK(r.drive.sgl_commands > 40);
    CHECK(r.drive.prp_commands - prps < r.drive.sgl_commands);  // only short last pieces
}

TEST_CASE("drive queue: data PRPs cannot describe (pieces inside pages) goes as an SGL when the drive takes them") {
    // Three pieces, none starting or ending on a page, 1 KiB in all.
    auto odd_write = [](Rig& r, Op& op) {
        op.io.op = IoOp::Write;
        op.io.offset = 8192;
        op.io.length = 1024;
        op.iov = {{r.data.base + 100, 600}, {r.data.base + 3 * kPage + 8, 400}, {r.data.base + 5 * kPage + 1, 24}};
        for (uint32_t i = 0; i < 1024; ++i) {
            uint64_t at = i;
            for (const iovec& v : op.iov) {
                if (at < v.iov_len) {
                    static_cast<uint8_t*>(v.iov_base)[at] = uint8_t(i * 7 + 1);
                    break;
                }
                at -= v.iov_len;
            }
        }
        op.io.iov = op.iov.data();
        op.io.iov_count = 3;
        op.io.on_complete = on_done;
        op.io.owner = &op;
        r.submit(op.io);
        r.settle();
    };
    SUBCASE("sgl=auto on a drive with SGLs: written where the host meant") {
        Rig r(4, shape(), SglUse{SglPolicy::Large, SglSupport::Any});
        Op w;
        odd_write(r, w);
        CHECK(w.got == IoStatus::Ok);
        CHECK(r.drive.sgl_commands == 1);
        for (uint32_t i = 0; i < 1024; ++i) CHECK(r.drive.disk[8192 + i] == uint8_t(i * 7 + 1));
    }
    SUBCASE("PRPs only, or a drive that wants whole dwords: the write fails, nothing reaches the drive") {
        for (SglUse use : {SglUse{}, SglUse{SglPolicy::Large, SglSupport::DwordAligned}}) {
            Rig r(4, shape(), use);
            Op w;
            odd_write(r, w);
            CHECK(w.got == IoStatus::WriteFault);
            CHECK(r.drive.commands == 0);
        }
    }
}

TEST_CASE("drive queue: write zeroes, deallocate and flush reach the drive") {
    Rig r(8, shape());
    std::memset(r.drive.disk.data(), 0xab, r.drive.disk.size());
    Op z, a, f;
    setup(z, r, IoOp::WriteZeroes, 4096, 64 * 1024, 0);
    z.io.iov_count = 0;
    std::vector<ByteRange> ranges{{1 << 20, 8192}, {2 << 20, 512}};
    a.io.op = IoOp::Deallocate;
    a.io.ranges = ranges.data();
    a.io.range_count = 2;
    a.io.on_complete = on_done;
    a.io.owner = &a;
    f.io.op = IoOp::Flush;
    f.io.on_complete = on_done;
    f.io.owner = &f;
    r.submit(z.io);
    r.submit(a.io);
    r.submit(f.io);
    r.settle();
    CHECK((z.got == IoStatus::Ok && a.got == IoStatus::Ok && f.got == IoStatus::Ok));
    CHECK(r.drive.disk[4096] == 0);
    CHECK(r.drive.disk[4096 + 64 * 1024 - 1] == 0);
    CHECK(r.drive.disk[4096 + 64 * 1024] == 0xab);
    CHECK(r.drive.disk[(1 << 20) + 8191] == 0);
    CHECK(r.drive.disk[(2 << 20) + 512] == 0xab);
}

TEST_CASE("drive queue: a command without data after a write in the same record carries none of the write's data") {
    // One slot, so one parent record, reused by every BlockIo: a flush,
    // write zeroes or deallocate planned into the storage a write used.
    Rig r(2, shape());
    std::vector<ByteRange> ranges{{1 << 20, 4096}};
    for (IoOp op : {IoOp::Flush, IoOp::WriteZeroes, IoOp::Deallocate}) {
        CAPTURE(nvmfd::plugin::io_op_name(op));
        Op w, n;
        setup(w, r, IoOp::Write, 1 << 20, 256 * 1024, 0);
        std::memset(r.data.base, 0x5a, 256 * 1024);
        r.submit(w.io);
        r.settle();
        REQUIRE(w.got == IoStatus::Ok);
        n.io.op = op;
        n.io.offset = op == IoOp::WriteZeroes ? 1 << 20 : 0;
        n.io.length = op == IoOp::WriteZeroes ? 4096 : 0;
        n.io.ranges = op == IoOp::Deallocate ? ranges.data() : nullptr;
        n.io.range_count = op == IoOp::Deallocate ? 1 : 0;
        n.io.on_complete = on_done;
        n.io.owner = &n;
        r.submit(n.io);
        r.settle();
        CHECK(n.got == IoStatus::Ok);
        if (op == IoOp::WriteZeroes) {
            CHECK(r.drive.disk[1 << 20] == 0);
            CHECK(r.drive.disk[(1 << 20) + 4096] == 0x5a);  // only the 4 KiB asked for
        }
    }
}

TEST_CASE("drive queue: a drive's media error reaches the host as the drive said it, failing only its BlockIo; "
          "bad memory and bad ranges fail at once") {
    using nvmfd::proto::Status;
    using nvmfd::proto::StatusCodeType;
    Rig r(8, shape());
    // Unrecovered Read Error with Do Not Retry; Write Fault without it.
    r.drive.media_error = [](uint64_t lba, uint32_t blocks, bool write) {
        return uint16_t(lba <= 1000 && 1000 < lba + blocks ? (write ? 0x280 : 0x4281) : 0);
    };
    Op bad, good;
    setup(bad, r, IoOp::Read, 0, 1 << 20, 0);  // blocks 0-2047: one of its 8 pieces fails
    setup(good, r, IoOp::Read, 4 << 20, 1 << 20, 256);
    r.submit(bad.io);
    r.submit(good.io);
    r.settle();
    CHECK(bad.got == IoStatus::DeviceStatus);
    CHECK(bad.device_status == Status(StatusCodeType::MediaError, 0x81).with_dnr().value);
    CHECK(good.got == IoStatus::Ok);
    setup(bad, r, IoOp::Write, 1000 * 512, 4096, 0);
    r.submit(bad.io);
    r.settle();
    CHECK(bad.got == IoStatus::DeviceStatus);
    CHECK(bad.device_status == Status(StatusCodeType::MediaError, 0x80).value);

    Op outside;
    std::vector<uint8_t> not_mapped(8192);
    setup(outside, r, IoOp::Write, 0, 4096, 0);
    outside.iov[0].iov_base = not_mapped.data();
    r.submit(outside.io);
    CHECK(outside.done);  // at once, nothing sent
    CHECK(outside.got == IoStatus::WriteFault);
    Op past;
    setup(past, r, IoOp::Read, (16ull << 20) - 512, 1024, 0);
    r.submit(past.io);
    CHECK(past.done);
    CHECK(past.got == IoStatus::InvalidRange);
}

TEST_CASE("drive queue: a completion that submits the next BlockIo at once (as the core does) keeps order") {
    Rig r(4, shape());  // 3 slots: every 1 MiB write goes out in waves
    struct Chain {
        Rig* rig;
        Op ops[6];
        int next = 0;
        std::vector<int> finished;
    } chain;
    chain.rig = &r;
    static Chain* current = nullptr;
    current = &chain;
    auto submit_next = [](Chain& c) {
        if (c.next == 6) return;
        Op& op = c.ops[c.next];
        setup(op, *c.rig, IoOp::Write, uint64_t(c.next) * (1 << 20), 1 << 20, 0);
        op.io.on_complete = [](BlockIo& io) {
            auto* o = static_cast<Op*>(io.owner);
            o->got = io.status;
            o->done = true;
            current->finished.push_back(int(o - current->ops));
            // Submit two more from inside the completion.
            for (int k = 0; k < 2 && current->next < 6; ++k) {
                Op& n = current->ops[current->next];
                setup(n, *current->rig, IoOp::Write, uint64_t(current->next) * (1 << 20), 1 << 20, 0);
                n.io.on_complete = io.on_complete;
                ++current->next;
                current->rig->submit(n.io);
            }
        };
        ++c.next;
        c.rig->submit(op.io);
    };
    submit_next(chain);
    r.settle();
    CHECK(chain.finished == std::vector<int>{0, 1, 2, 3, 4, 5});
    for (auto& op : chain.ops) CHECK(op.got == IoStatus::Ok);
}

namespace {

// Turns of the driver and the drive: doorbells, the drive's work, reaping.
void turns(Rig& r, int n) {
    for (int i = 0; i < n; ++i) {
        r.q->flush();
        r.drive.q.run();
        r.q->poll();
    }
}

// `n` pages of random data at pool page `first`; returns them.
std::vector<uint8_t> fill(Rig& r, size_t first, size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::vector<uint8_t> v(n * kPage);
    for (auto& b : v) b = uint8_t(rng());
    std::memcpy(r.data.base + first * kPage, v.data(), v.size());
    return v;
}

bool on_disk(const Rig& r, uint64_t offset, const std::vector<uint8_t>& want) {
    return std::memcmp(r.drive.disk.data() + offset, want.data(), want.size()) == 0;
}

}  // namespace

TEST_CASE("drive queue: a stuck command expires, gets another deadline for its Abort, and is sent again when the "
          "Abort ends it; the BlockIo completes once, its data written") {
    Rig r(8, shape());
    const auto data = fill(r, 0, 64, 1);  // 256 KiB: two commands at the 128 KiB split
    bool swallowed_once = false;
    r.drive.q.swallow = [&](const nvmfd::proto::Sqe&) { return !std::exchange(swallowed_once, true); };
    Op w;
    setup(w, r, IoOp::Write, 1 << 20, 256 * 1024, 0);
    r.submit(w.io);
    turns(r, 5);
    REQUIRE(r.drive.q.swallowed.size() == 1);
    CHECK_FALSE(w.done);
    CHECK(r.q->commands_in_flight() == 1);

    const auto now = std::chrono::steady_clock::now();
    CHECK_FALSE(r.q->expired(now));  // not yet due
    auto first = r.q->expired(now + std::chrono::seconds(11));
    REQUIRE(first);
    CHECK(first->cid == r.drive.q.swallowed[0].cid);
    CHECK_FALSE(first->aborted_before);
    CHECK_FALSE(r.q->expired(now + std::chrono::seconds(11)));  // its Abort has time
    auto again = r.q->expired(now + std::chrono::seconds(30));
    REQUIRE(again);
    CHECK(again->aborted_before);  // the Abort did nothing: the caller resets

    // The Abort worked after all: the drive ends the command with Command
    // Abort Requested, and it goes out again.
    REQUIRE(r.drive.q.post(r.drive.q.swallowed[0], 0x07));
    r.settle();
    CHECK(w.completions == 1);
    CHECK(w.got == IoStatus::Ok);
    CHECK(on_disk(r, 1 << 20, data));
}

TEST_CASE("drive queue: nvmfd's own aborts are retried a bounded number of times, then the BlockIo fails") {
    Rig r(8, shape());
    r.drive.q.swallow = [](const nvmfd::proto::Sqe&) { return true; };
    Op rd;
    setup(rd, r, IoOp::Read, 0, 4096, 0);
    r.submit(rd.io);
    for (uint32_t i = 0; i <= DriveQueue::kMaxRetries; ++i) {
        turns(r, 2);
        REQUIRE(r.drive.q.swallowed.size() == i + 1);
        CHECK_FALSE(rd.done);
        REQUIRE(r.drive.q.post(r.drive.q.swallowed.back(), 0x07));
    }
    turns(r, 2);
    CHECK(rd.completions == 1);
    CHECK(rd.got == IoStatus::Aborted);
    CHECK(r.drive.q.swallowed.size() == DriveQueue::kMaxRetries + 1);
}

TEST_CASE("drive queue: across a controller reset, what the drive never completed is sent again in order and "
          "completes once; what came during the reset waits, then goes") {
    Rig r(6, shape());  // 5 slots
    std::vector<std::vector<uint8_t>> data;
    std::vector<Op> ops(4);
    bool stuck = true;
    r.drive.q.swallow = [&](const nvmfd::proto::Sqe&) { return stuck; };
    for (size_t i = 0; i < 3; ++i) {
        data.push_back(fill(r, i * 32, 32, unsigned(10 + i)));  // 128 KiB each: one command
        setup(ops[i], r, IoOp::Write, (i + 1) << 20, 128 * 1024, i * 32);
        r.submit(ops[i].io);
    }
    turns(r, 3);
    REQUIRE(r.drive.q.swallowed.size() == 3);

    r.q->hold();
    data.push_back(fill(r, 3 * 32, 32, 13));
    setup(ops[3], r, IoOp::Write, 4 << 20, 128 * 1024, 3 * 32);
    r.submit(ops[3].io);  // during the reset
    turns(r, 3);          // nothing is sent or reaped while held
    CHECK(r.drive.q.taken.size() == 3);
    for (auto& op : ops) CHECK_FALSE(op.done);

    r.drive.q.reset();
    stuck = false;
    r.q->resume_after_reset();
    // A late completion under an old ID (the drive finishing the swallowed
    // command after all) is stale: dropped, not delivered twice.
    REQUIRE(r.drive.q.post(r.drive.q.swallowed[0], 0));
    r.settle();
    CHECK(r.q->core().stale_completions() == 1);
    const std::vector<uint16_t> taken(r.drive.q.taken.begin() + 3, r.drive.q.taken.end());
    REQUIRE(taken.size() == 4);
    for (size_t i = 0; i < 3; ++i) {
        CHECK((taken[i] & 0xfff) == (r.drive.q.swallowed[i].cid & 0xfff));  // same slot, in order
        CHECK(taken[i] != r.drive.q.swallowed[i].cid);                      // a new generation
    }
    for (size_t i = 0; i < ops.size(); ++i) {
        CAPTURE(i);
        CHECK(ops[i].completions == 1);
        CHECK(ops[i].got == IoStatus::Ok);
        CHECK(on_disk(r, (i + 1) << 20, data[i]));
    }
}

TEST_CASE("drive queue: a dead drive fails every BlockIo in flight or waiting with the given status, and every "
          "later one at once") {
    Rig r(4, shape());  // 3 slots: a 1 MiB write (8 commands) keeps others waiting
    r.drive.q.swallow = [](const nvmfd::proto::Sqe&) { return true; };
    std::vector<Op> ops(4);
    setup(ops[0], r, IoOp::Write, 0, 1 << 20, 0);
    setup(ops[1], r, IoOp::Read, 2 << 20, 4096, 256);
    setup(ops[2], r, IoOp::Write, 3 << 20, 8192, 257);
    ops[3].io.op = IoOp::Flush;
    ops[3].io.on_complete = on_done;
    ops[3].io.owner = &ops[3];
    for (auto& op : ops) r.submit(op.io);
    turns(r, 3);
    CHECK(r.q->commands_in_flight() == 3);
    CHECK(r.q->waiting() > 0);
    r.q->fail_all(IoStatus::Unavailable);
    for (size_t i = 0; i < ops.size(); ++i) {
        CAPTURE(i);
        CHECK(ops[i].completions == 1);
        CHECK(ops[i].got == IoStatus::Unavailable);
    }
    CHECK(r.q->commands_in_flight() == 0);
    CHECK(r.q->waiting() == 0);
    Op later;
    setup(later, r, IoOp::Read, 0, 4096, 300);
    r.submit(later.io);
    CHECK(later.completions == 1);
    CHECK(later.got == IoStatus::Unavailable);
    turns(r, 2);
    CHECK(r.drive.q.taken.size() == 3);  // nothing more reached the drive
}
