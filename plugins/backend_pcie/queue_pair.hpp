// A reactor's I/O queue pair on one drive (docs/pcie-design.md 9.1, 9.4),
// shared by that reactor's channels of every namespace on the drive (kept in
// reactor.local("backend.pcie/<BDF>")). Commands go into the SQ as they
// come; one SQ doorbell write per loop turn (a Deferred); completions are
// reaped by a Poller with phase checks, one CQ doorbell write per batch.
// The queue is polled: while commands are in flight the reactor does not
// sleep; an idle reactor does (interrupts through the VFIO MSI-X eventfd
// are the measured alternative, slice 4).
//
// DMA: the reactor's buffer pool is mapped once per reactor for all drives
// (reactor.local("backend.pcie.pool")); a command whose memory lies
// elsewhere fails. The core's shared zero page is read from the queue's own
// page of zeroes.
//
// Life: made on the reactor by the first channel; when the last channel is
// gone the reactor deletes the queue pair on the drive and drops it, which
// may release the drive.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>

#include "core/plugin/backend.hpp"
#include "core/runtime/reactor.hpp"
#include "plugins/backend_pcie/controller.hpp"
#include "plugins/backend_pcie/drive_queue.hpp"

namespace nvmfd::plugins::pcie {

class PoolMapping;

class QueuePair final : public runtime::Poller,
                        public runtime::Deferred,
                        public DmaTranslator,
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
    bool before_sleep() override { return queue_.commands_in_flight() > 0; }
    void run_deferred() override { queue_.flush(); }
    std::optional<uint64_t> iova(const void* p, uint64_t len) const override;

    // Any thread: a channel joins or leaves. After the last one leaves, the
    // reactor deletes the queue pair on the drive.
    void add_channel() { channels_.fetch_add(1); }
    void remove_channel();
    // The reactor is going away: stop using it.
    void detach();

private:
    void close_if_unused();

    runtime::Reactor* reactor_;
    std::mutex reactor_mutex_;  // reactor_ as remove_channel() on other threads sees it
    std::shared_ptr<Controller> controller_;
    std::shared_ptr<PoolMapping> pool_;
    IoQueueMemory memory_;
    DriveQueue queue_;
    std::atomic<int> channels_{0};
    bool deleted_on_drive_ = false;
};

}  // namespace nvmfd::plugins::pcie
