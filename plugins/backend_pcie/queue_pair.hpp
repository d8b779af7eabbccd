// A reactor's I/O queue pair on one drive (docs/pcie-design.md 9.1, 9.4),
// shared by that reactor's channels of every namespace on the drive (kept in
// reactor.local("backend.pcie/<BDF>")). Commands go into the SQ as they
// come; one SQ doorbell write per loop turn (a Deferred); completions are
// reaped by a Poller with phase checks, one CQ doorbell write per batch.
// Completions: with the drive's MSI-X (the default when it has it and the
// reactor does not busy-poll), the queue's vector eventfd sits in the
// reactor's epoll set and wakes it; the poller reaps every turn anyway, so
// a busy reactor finds completions before the interrupt's wakeup. Polled
// (`interrupts=off`, or a busy-polling reactor): the reactor does not sleep
// while commands are at the drive. An idle reactor sleeps either way.
//
// DMA: the reactor's buffer pool is mapped once per reactor for all drives
// (reactor.local("backend.pcie.pool")); a command whose memory lies
// elsewhere fails. The core's shared zero page is read from the queue's own
// page of zeroes.
//
// Timeouts: a reactor timer looks for commands past their deadline every
// 100 ms and reports them to the controller, whose monitor thread aborts
// them or resets the controller; for a reset the controller holds the queue
// pair, recreates it on the drive and resumes it (the drive's unfinished
// commands are sent again, in order); a dead drive fails everything with
// Namespace Not Ready (docs/pcie-design.md 7.3-7.4).
//
// Life: made on the reactor by the first channel; when the last channel is
// gone the reactor deletes the queue pair on the drive and drops it, which
// may release the drive.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <functional>
#include <optional>

#include "core/plugin/backend.hpp"
#include "core/runtime/reactor.hpp"
#include "plugins/backend_pcie/controller.hpp"
#include "plugins/backend_pcie/drive_queue.hpp"

namespace nvmfd::plugins::pcie {

class PoolMapping;

class QueuePair final : public runtime::Poller,
                        public runtime::FdHandler,
                        public runtime::Deferred,
                        public DmaTranslator,
                        public QueueUser,
                        public std::enable_shared_from_this<QueuePair> {
    struct Token {};

public:
    // The queue pair of `controller` on `reactor`, created on first use.
    // Reactor thread.
    static Result<std::shared_ptr<QueuePair>> of(runtime::Reactor& reactor, std::shared_ptr<Controller> controller,
                                                 uint16_t entries, std::chrono::milliseconds timeout);

    QueuePair(Token, runtime::Reactor& reactor, std::shared_ptr<Controller> controller,
              std::shared_ptr<PoolMapping> pool, IoQueueMemory memory, std::chrono::milliseconds timeout);
    ~QueuePair();

    const std::shared_ptr<Controller>& controller() const { return controller_; }
    DriveShape fit(const DriveShape& shape) const { return queue_.fit(shape); }

    // Reactor thread.
    void submit(plugin::BlockIo& io, const DriveShape& shape);
    bool poll() override;
    // Polled: a reactor with commands at the drive does not sleep (unless
    // they are held for a reset, which a message ends). With interrupts
    // it may: the vector's eventfd wakes it.
    bool before_sleep() override {
        return !memory_.interrupts && queue_.commands_in_flight() > 0 && !queue_.held();
    }
    void on_fd_event(uint32_t events) override;
    void run_deferred() override { queue_.flush(); }
    std::optional<uint64_t> iova(const void* p, uint64_t len) const override;

    // Any thread: a channel joins or leaves. After the last one leaves, the
    // reactor deletes the queue pair on the drive.
    void add_channel() { channels_.fetch_add(1); }
    void remove_channel();
    // The reactor is going away: stop using it.
    void detach();

    // QueueUser: what the controller's recovery does with it.
    bool on_reactor(const std::function<void()>& fn) override;
    bool detached() override {
        std::lock_guard lock(reactor_mutex_);
        return reactor_ == nullptr;
    }
    void hold() override { queue_.hold(); }
    void resume_after_reset() override;
    void fail_all() override { queue_.fail_all(plugin::IoStatus::Unavailable); }
    const IoQueueMemory& queue_memory() const override { return memory_; }

private:
    void delete_on_drive();  // and logs what the queue pair carried
    void close_if_unused();
    void arm_timeout_check();

    runtime::Reactor* reactor_;
    std::mutex reactor_mutex_;  // reactor_ as remove_channel() on other threads sees it
    std::shared_ptr<Controller> controller_;
    std::shared_ptr<PoolMapping> pool_;
    IoQueueMemory memory_;
    DriveQueue queue_;
    std::atomic<int> channels_{0};
    bool deleted_on_drive_ = false;
    runtime::Reactor::TimerId timeout_timer_ = 0;
};

}  // namespace nvmfd::plugins::pcie
