// A uring namespace's queue on one reactor: maps each BlockIo to io_uring
// operations and their results back to an IoStatus.
//   Read/Write   READV/WRITEV (FUA: RWF_DSYNC), resubmitting the rest of a
//                short transfer and splitting at IOV_MAX iovecs
//   Flush        FSYNC with IORING_FSYNC_DATASYNC (fdatasync)
//   WriteZeroes  FALLOCATE ZERO_RANGE, then PUNCH_HOLE (files), then writes
//                from a zero buffer, whichever the kernel supports
//   Deallocate   FALLOCATE PUNCH_HOLE for files; BLKDISCARD on the backend's
//                blocking worker for block devices
// Everything here runs on the reactor thread, except UringChannel's
// destructor (the core destroys channels on its control thread).
#pragma once

#include <memory>
#include <utility>

#include "core/plugin/backend.hpp"
#include "plugins/backend_uring/device_state.hpp"
#include "plugins/backend_uring/ring.hpp"

namespace nvmfd::plugins::uring {

class ChannelState {
public:
    // At most this many iovecs per SQE (the kernel's UIO_MAXIOV); longer
    // lists go in several steps.
    static constexpr unsigned kMaxIov = 1024;
    static constexpr uint16_t kMaxRetries = 64;

    ChannelState(std::shared_ptr<DeviceState> device, Ring& ring);
    ~ChannelState() = default;
    ChannelState(const ChannelState&) = delete;
    ChannelState& operator=(const ChannelState&) = delete;

    void submit(plugin::BlockIo& io);
    // From the ring.
    void prepare(Op& op, io_uring_sqe& sqe);
    void on_cqe(Op& op, int res);
    void abort_queued(Op& op);  // an op still in the backlog when the channel retired

    bool retired() const { return retired_; }
    // The handle is gone: release the fixed file; destroyed with the last completion.
    void retire();
    uint64_t in_flight() const { return inflight_; }

private:
    std::pair<iovec*, unsigned> segment(Op& op);
    void restore_iov(Op& op);
    void advance(Op& op, uint64_t bytes);
    void prepare_zeroes(Op& op, io_uring_sqe& sqe);
    void on_zeroes(Op& op, int res);
    void skip_empty_ranges(Op& op);
    int check_buffers(const plugin::BlockIo& io) const;
    void discard_on_worker(Op& op);
    void fail(Op& op, int err);
    void finish(Op& op, plugin::IoStatus status, int err = 0);
    void fail_now(plugin::BlockIo& io, plugin::IoStatus status, int err);
    void report(const plugin::BlockIo& io, plugin::IoStatus status, int err);

    std::shared_ptr<DeviceState> dev_;
    Ring& ring_;
    int file_;  // fixed-file slot when fixed_, else the descriptor
    bool fixed_ = false;
    uint64_t inflight_ = 0;  // accepted by submit() and not completed
    bool retired_ = false;
};

// What the core holds: a handle on the channel state in its reactor's ring.
class UringChannel final : public plugin::IoChannel {
public:
    UringChannel(std::shared_ptr<Ring> ring, ChannelState& state) : ring_(std::move(ring)), state_(state) {}
    ~UringChannel() override { ring_->retire(state_); }
    void submit(plugin::BlockIo& io) override { state_.submit(io); }

private:
    std::shared_ptr<Ring> ring_;
    ChannelState& state_;
};

// When the reactor has no ring (the kernel refused one), I/O fails cleanly.
class FailingChannel final : public plugin::IoChannel {
public:
    explicit FailingChannel(int err) : err_(err) {}
    void submit(plugin::BlockIo& io) override;

private:
    int err_;
};

}  // namespace nvmfd::plugins::uring
