// One io_uring per reactor, shared by every uring namespace the reactor
// serves (kept in reactor.local("backend.uring")).
//
// Submission: channels hand the ring an Op; the ring gets it an SQE at once
// (or, when the SQ is full or the CQ could overflow, keeps it in a FIFO
// backlog) and asks the reactor for a Deferred turn-end, where one
// io_uring_submit covers everything queued during the turn.
// Completion: the ring fd sits in the reactor's epoll set (it is readable
// while the CQ has entries), so a sleeping reactor wakes when I/O completes;
// a Poller reaps too, which costs one load of the CQ tail when idle.
// Setup flags (ring_setup.hpp): with COOP_TASKRUN a completion's task work
// waits for the reactor's next system call (one every loop turn) instead of
// interrupting it with an IPI.
// Files: a sparse fixed-file table; each channel registers its device once,
// which saves the kernel a file reference per I/O.
#pragma once

#include <liburing.h>
#include <memory>
#include <mutex>
#include <sys/uio.h>
#include <vector>

#include "core/plugin/backend.hpp"
#include "core/runtime/reactor.hpp"
#include "plugins/backend_uring/device_state.hpp"

namespace nvmfd::plugins::uring {

class ChannelState;

// One BlockIo on its way through the ring, and how far it got. Ops come from
// the ring's pool (grown in chunks, never shrunk): nothing is allocated per
// command once the pool has reached the reactor's queue depth.
struct Op {
    Op* next = nullptr;  // free list or backlog
    ChannelState* channel = nullptr;
    plugin::BlockIo* io = nullptr;
    uint64_t done = 0;       // bytes finished (read, write, zero writes) or ranges finished (deallocate)
    uint32_t iov_index = 0;  // first iovec not finished
    uint32_t iov_skip = 0;   // bytes of it finished
    // io->iov entries shortened for the SQE in flight, restored on its completion.
    int32_t edited_first = -1;
    int32_t edited_last = -1;
    iovec saved_first{};
    iovec saved_last{};
    uint16_t retries = 0;    // -EAGAIN/-EINTR resubmissions in a row
    ZeroMethod zero_method = ZeroMethod::ZeroRange;
    bool final_sync = false;  // Write Zeroes with FUA: the fdatasync after zeroing
};

class Ring final : public runtime::Poller,
                   public runtime::FdHandler,
                   public runtime::Deferred,
                   public std::enable_shared_from_this<Ring> {
    struct Token {};

public:
    static constexpr unsigned kSqEntries = 256;
    static constexpr unsigned kCqEntries = 4096;  // also the cap on operations in flight
    static constexpr unsigned kFileSlots = 256;

    // The ring of this reactor, created on first use; null (logged) when the
    // kernel refuses. Reactor thread.
    static std::shared_ptr<Ring> of(runtime::Reactor& reactor);

    Ring(Token, runtime::Reactor& reactor);
    ~Ring();
    Ring(const Ring&) = delete;
    Ring& operator=(const Ring&) = delete;

    // Reactor thread only, from here on.
    runtime::Reactor* reactor() const { return reactor_; }
    Op& alloc_op();
    void free_op(Op& op);
    // Give op an SQE now or as soon as there is room; the channel's
    // prepare() fills the SQE, its on_cqe() gets the result.
    void start(Op& op);
    int register_file(int fd);  // a fixed-file slot, or -1 (the channel then uses fd itself)
    void unregister_file(int slot);
    ChannelState& add_channel(std::unique_ptr<ChannelState> channel);
    void remove_channel(ChannelState& channel);  // destroys it
    unsigned in_flight() const { return inflight_; }

    // Any thread: a channel's handle is gone. Its state is retired on the
    // reactor and destroyed once its last operation has completed.
    void retire(ChannelState& channel);
    // The reactor is being destroyed: stop using it.
    void detach();

    bool poll() override;
    void on_fd_event(uint32_t events) override;
    void run_deferred() override;

private:
    int init();
    bool try_submit(Op& op);
    void flush();
    unsigned reap();
    void drain_backlog();
    void push_backlog(Op& op);

    io_uring ring_{};
    bool ring_ready_ = false;
    runtime::Reactor* reactor_;
    std::mutex attach_mutex_;  // reactor_ as seen by retire() from other threads
    unsigned inflight_ = 0;    // SQEs handed to the kernel and not yet completed
    unsigned max_inflight_ = kCqEntries;
    bool submit_retry_ = false;  // the kernel did not take every SQE; try again next turn
    Op* backlog_head_ = nullptr;
    Op* backlog_tail_ = nullptr;
    Op* free_ops_ = nullptr;
    std::vector<std::unique_ptr<Op[]>> op_chunks_;
    std::vector<int> file_slots_;  // fd registered in each slot, -1 when free
    bool files_registered_ = false;
    std::vector<std::unique_ptr<ChannelState>> channels_;
    uint64_t submit_errors_ = 0;
};

}  // namespace nvmfd::plugins::uring
