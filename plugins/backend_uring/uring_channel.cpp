#include "plugins/backend_uring/uring_channel.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/ioctl.h>

#include "core/runtime/log.hpp"
#include "plugins/backend_uring/blocking_worker.hpp"
#include "plugins/backend_uring/io_errors.hpp"

namespace nvmfd::plugins::uring {
namespace {

using plugin::BlockIo;
using plugin::IoOp;
using plugin::IoStatus;

// Zero writes (the last Write Zeroes fallback) come from here: never written,
// page aligned for O_DIRECT, one chunk per SQE.
constexpr uint64_t kZeroChunk = 1u << 20;
alignas(4096) unsigned char g_zeroes[kZeroChunk];

}  // namespace

ChannelState::ChannelState(std::shared_ptr<DeviceState> device, Ring& ring)
    : dev_(std::move(device)), ring_(ring), file_(dev_->fd.get()) {
    int slot = ring_.register_file(dev_->fd.get());
    if (slot >= 0) {
        file_ = slot;
        fixed_ = true;
    }
}

// --- submission ---

void ChannelState::submit(BlockIo& io) {
    const DeviceState& d = *dev_;
    if (retired_) return io.complete(IoStatus::Aborted, ECANCELED);
    const uint64_t size = d.size.load(std::memory_order_relaxed);
    auto outside = [size](uint64_t offset, uint64_t length) { return offset > size || length > size - offset; };
    switch (io.op) {
    case IoOp::Read:
    case IoOp::Write:
    case IoOp::WriteZeroes:
        if (outside(io.offset, io.length)) return io.complete(IoStatus::InvalidRange);
        if (io.op != IoOp::Read && d.read_only) return fail_now(io, IoStatus::WriteFault, EROFS);
        if (io.length == 0) return io.complete(IoStatus::Ok);
        if (io.op != IoOp::WriteZeroes) {
            if (int err = check_buffers(io))
                return fail_now(io, io.op == IoOp::Read ? IoStatus::ReadError : IoStatus::WriteFault, err);
        }
        break;
    case IoOp::Flush:
        break;
    case IoOp::Deallocate:
        if (d.read_only) return fail_now(io, IoStatus::WriteFault, EROFS);
        if (!d.deallocate) return io.complete(IoStatus::NotSupported, EOPNOTSUPP);
        for (uint32_t i = 0; i < io.range_count; ++i)
            if (outside(io.ranges[i].offset, io.ranges[i].length)) return io.complete(IoStatus::InvalidRange);
        break;
    }

    Op& op = ring_.alloc_op();
    op.channel = this;
    op.io = &io;
    op.zero_method = d.zero_method.load(std::memory_order_relaxed);
    ++inflight_;
    if (io.op == IoOp::Deallocate) {
        if (d.block_device) return discard_on_worker(op);
        skip_empty_ranges(op);
        if (op.done == io.range_count) return finish(op, IoStatus::Ok);
    }
    ring_.start(op);
}

// The iovecs must cover the transfer and, for O_DIRECT, be aligned the way
// the kernel needs; the core's buffer pool guarantees both, so a failure
// here is a bug worth a clear error rather than a kernel EINVAL.
int ChannelState::check_buffers(const BlockIo& io) const {
    uint64_t total = 0, misaligned = 0;
    const uint64_t mask = dev_->direct ? dev_->device_block_size - 1 : 0;
    for (uint32_t i = 0; i < io.iov_count && total < io.length; ++i) {
        uint64_t len = std::min<uint64_t>(io.iov[i].iov_len, io.length - total);
        misaligned |= reinterpret_cast<uintptr_t>(io.iov[i].iov_base) | len;
        total += len;
    }
    if (total < io.length) {
        log::error("{}: {} of {} bytes with buffers for {} bytes only", dev_->path, plugin::io_op_name(io.op),
                   io.length, total);
        return EINVAL;
    }
    if (misaligned & mask) {
        log::error("{}: {} buffers are not aligned to {} bytes as O_DIRECT needs", dev_->path,
                   plugin::io_op_name(io.op), mask + 1);
        return EINVAL;
    }
    return 0;
}

// The iovecs for the next SQE of a read or write: from where the transfer
// stands, at most kMaxIov of them, covering no more than what is left. The
// first and last entries are shortened in place when needed and restored
// when the SQE completes.
std::pair<iovec*, unsigned> ChannelState::segment(Op& op) {
    BlockIo& io = *op.io;
    iovec* first = io.iov + op.iov_index;
    const unsigned avail = std::min<unsigned>(io.iov_count - op.iov_index, kMaxIov);
    const uint64_t want = io.length - op.done;
    if (op.iov_skip) {
        op.edited_first = static_cast<int32_t>(op.iov_index);
        op.saved_first = *first;
        first->iov_base = static_cast<char*>(first->iov_base) + op.iov_skip;
        first->iov_len -= op.iov_skip;
    }
    uint64_t total = 0;
    unsigned n = 0;
    while (n < avail) {
        iovec& v = first[n++];
        if (total + v.iov_len < want) {
            total += v.iov_len;
            continue;
        }
        if (total + v.iov_len > want) {
            int32_t index = static_cast<int32_t>(op.iov_index + n - 1);
            if (index != op.edited_first) {
                op.edited_last = index;
                op.saved_last = v;
            }
            v.iov_len = want - total;
        }
        break;
    }
    return {first, n};
}

void ChannelState::restore_iov(Op& op) {
    if (op.edited_last >= 0) op.io->iov[op.edited_last] = op.saved_last;
    if (op.edited_first >= 0) op.io->iov[op.edited_first] = op.saved_first;
    op.edited_first = op.edited_last = -1;
}

void ChannelState::advance(Op& op, uint64_t bytes) {
    BlockIo& io = *op.io;
    op.done += bytes;
    while (bytes && op.iov_index < io.iov_count) {
        uint64_t left = io.iov[op.iov_index].iov_len - op.iov_skip;
        if (bytes >= left) {
            bytes -= left;
            ++op.iov_index;
            op.iov_skip = 0;
        } else {
            op.iov_skip += static_cast<uint32_t>(bytes);
            bytes = 0;
        }
    }
}

void ChannelState::prepare(Op& op, io_uring_sqe& sqe) {
    BlockIo& io = *op.io;
    switch (io.op) {
    case IoOp::Read: {
        auto [iov, count] = segment(op);
        io_uring_prep_readv(&sqe, file_, iov, count, io.offset + op.done);
        break;
    }
    case IoOp::Write: {
        auto [iov, count] = segment(op);
        io_uring_prep_writev2(&sqe, file_, iov, count, io.offset + op.done, io.fua ? RWF_DSYNC : 0);
        break;
    }
    case IoOp::Flush:
        io_uring_prep_fsync(&sqe, file_, IORING_FSYNC_DATASYNC);
        break;
    case IoOp::WriteZeroes:
        prepare_zeroes(op, sqe);
        break;
    case IoOp::Deallocate: {
        const plugin::ByteRange& r = io.ranges[op.done];
        io_uring_prep_fallocate(&sqe, file_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(r.offset),
                                static_cast<off_t>(r.length));
        break;
    }
    }
    if (fixed_) sqe.flags |= IOSQE_FIXED_FILE;
}

void ChannelState::prepare_zeroes(Op& op, io_uring_sqe& sqe) {
    BlockIo& io = *op.io;
    if (op.final_sync) {
        io_uring_prep_fsync(&sqe, file_, IORING_FSYNC_DATASYNC);
        return;
    }
    const auto offset = static_cast<off_t>(io.offset), length = static_cast<off_t>(io.length);
    switch (op.zero_method) {
    case ZeroMethod::ZeroRange:
        io_uring_prep_fallocate(&sqe, file_, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, offset, length);
        break;
    case ZeroMethod::PunchHole:
        io_uring_prep_fallocate(&sqe, file_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length);
        break;
    case ZeroMethod::Write: {
        auto n = static_cast<unsigned>(std::min<uint64_t>(io.length - op.done, kZeroChunk));
        io_uring_prep_write(&sqe, file_, g_zeroes, n, io.offset + op.done);
        if (io.fua) sqe.rw_flags = RWF_DSYNC;
        break;
    }
    }
}

// --- completion ---

void ChannelState::on_cqe(Op& op, int res) {
    BlockIo& io = *op.io;
    restore_iov(op);
    if ((res == -EAGAIN || res == -EINTR) && op.retries < kMaxRetries) {
        ++op.retries;
        ring_.start(op);
        return;
    }
    if (res < 0) return fail(op, -res);
    op.retries = 0;
    switch (io.op) {
    case IoOp::Read:
    case IoOp::Write:
        if (res == 0) {
            if (io.op == IoOp::Write) return finish(op, IoStatus::WriteFault, EIO);
            // End of file inside the namespace: the file shrank under us, or
            // the namespace is being shrunk right now.
            bool beyond = io.offset + op.done >= dev_->size.load(std::memory_order_relaxed);
            return finish(op, beyond ? IoStatus::InvalidRange : IoStatus::ReadError, beyond ? 0 : ENODATA);
        }
        advance(op, static_cast<uint64_t>(res));
        if (op.done < io.length) {
            ring_.start(op);  // a short transfer: the rest
            return;
        }
        return finish(op, IoStatus::Ok);
    case IoOp::Flush:
        return finish(op, IoStatus::Ok);
    case IoOp::WriteZeroes:
        return on_zeroes(op, res);
    case IoOp::Deallocate:
        ++op.done;
        skip_empty_ranges(op);
        if (op.done < io.range_count) {
            ring_.start(op);
            return;
        }
        return finish(op, IoStatus::Ok);
    }
}

void ChannelState::on_zeroes(Op& op, int res) {
    BlockIo& io = *op.io;
    if (op.final_sync) return finish(op, IoStatus::Ok);
    if (op.zero_method == ZeroMethod::Write) {
        if (res == 0) return finish(op, IoStatus::WriteFault, EIO);
        op.done += static_cast<uint64_t>(res);
        if (op.done < io.length) {
            ring_.start(op);
            return;
        }
        return finish(op, IoStatus::Ok);  // FUA went with each write (RWF_DSYNC)
    }
    if (io.fua) {
        // fallocate has no FUA: make the zeroes durable before completing.
        op.final_sync = true;
        ring_.start(op);
        return;
    }
    finish(op, IoStatus::Ok);
}

void ChannelState::skip_empty_ranges(Op& op) {
    const BlockIo& io = *op.io;
    while (op.done < io.range_count && io.ranges[op.done].length == 0) ++op.done;
}

void ChannelState::fail(Op& op, int err) {
    BlockIo& io = *op.io;
    if (io.op == IoOp::WriteZeroes && err == EOPNOTSUPP && !op.final_sync && op.zero_method != ZeroMethod::Write) {
        // Fall back to the next method and remember it for the device.
        ZeroMethod next = op.zero_method == ZeroMethod::ZeroRange && !dev_->block_device && dev_->deallocate
                              ? ZeroMethod::PunchHole
                              : ZeroMethod::Write;
        ZeroMethod current = op.zero_method;
        if (dev_->zero_method.compare_exchange_strong(current, next))
            log::info("{}: {} is not supported here; Write Zeroes {}", dev_->path,
                      op.zero_method == ZeroMethod::ZeroRange ? "FALLOC_FL_ZERO_RANGE" : "FALLOC_FL_PUNCH_HOLE",
                      next == ZeroMethod::PunchHole ? "punches holes" : "writes zeroes");
        op.zero_method = next;
        op.done = 0;
        ring_.start(op);
        return;
    }
    finish(op, status_for_errno(io.op, err), err);
}

void ChannelState::abort_queued(Op& op) { finish(op, IoStatus::Aborted, ECANCELED); }

void ChannelState::finish(Op& op, IoStatus status, int err) {
    BlockIo& io = *op.io;
    ring_.free_op(op);
    --inflight_;
    if (status != IoStatus::Ok && status != IoStatus::InvalidRange && status != IoStatus::Aborted)
        report(io, status, err);
    // Once retired, the namespace may be gone: the core must not account
    // this completion to it, which Aborted guarantees.
    if (retired_) status = IoStatus::Aborted;
    bool last = retired_ && inflight_ == 0;
    io.complete(status, err);
    if (last) ring_.remove_channel(*this);  // destroys this
}

void ChannelState::fail_now(BlockIo& io, IoStatus status, int err) {
    report(io, status, err);
    io.complete(status, err);
}

void ChannelState::report(const BlockIo& io, IoStatus status, int err) {
    uint64_t n = dev_->errors.fetch_add(1, std::memory_order_relaxed) + 1;
    if (n > 10 && n % 1000 != 0) return;  // the first ten, then one in a thousand
    log::warn("{}: {} of {} bytes at offset {} failed: {} ({}){}", dev_->path, plugin::io_op_name(io.op), io.length,
              io.offset, err ? std::strerror(err) : "no data", status_name(status),
              n > 10 ? fmt::format(" [{} errors so far]", n) : std::string());
}

// --- block device discard ---

// BLKDISCARD has no io_uring opcode before Linux 6.12 and may take long on
// some devices, so it runs on the backend's blocking worker; the result comes
// back to this reactor as a message. Ranges shrink inward to the device's
// logical blocks (a deallocate is a hint, and reads after it are not
// promised to be zero for block devices).
void ChannelState::discard_on_worker(Op& op) {
    runtime::Reactor* reactor = ring_.reactor();
    if (!reactor || !dev_->worker) return finish(op, IoStatus::NotSupported, EOPNOTSUPP);
    // Raw captures only: the channel keeps the device (and its descriptor)
    // alive until this completion is back, and the job must not own
    // anything whose destruction could end on the worker thread.
    dev_->worker->run([fd = dev_->fd.get(), block = dev_->device_block_size, io = op.io, opp = &op, self = this,
                       reactor] {
        int err = 0;
        const uint64_t mask = block - 1;
        for (uint32_t i = 0; i < io->range_count && !err; ++i) {
            uint64_t start = (io->ranges[i].offset + mask) & ~mask;
            uint64_t end = (io->ranges[i].offset + io->ranges[i].length) & ~mask;
            if (end <= start) continue;
            uint64_t range[2] = {start, end - start};
            if (::ioctl(fd, BLKDISCARD, range) != 0) err = errno;
        }
        reactor->post([self, opp, err] {
            if (err) self->fail(*opp, err); else self->finish(*opp, IoStatus::Ok);
        });
    });
}

// --- retirement ---

void ChannelState::retire() {
    retired_ = true;
    if (fixed_) {
        ring_.unregister_file(file_);
        fixed_ = false;
        file_ = dev_->fd.get();
    }
    if (inflight_ == 0) ring_.remove_channel(*this);  // destroys this
}

void FailingChannel::submit(BlockIo& io) {
    io.complete(io.op == IoOp::Read ? IoStatus::ReadError : IoStatus::WriteFault, err_);
}

}  // namespace nvmfd::plugins::uring
