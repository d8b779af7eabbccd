// An I/O queue of a connected controller: synchronous wrappers for tests
// and the underlying pipelined Queue for load generators.
//
//   IoQueue io = controller.connect_io_queue(1, 32);
//   Status s = io.write(nsid, lba, nblocks, data);      // waits, returns the NVMe status
//   io.queue().submit(cmd::read(nsid, lba, n), Transfer::from_controller(buf), callback);
//   io.queue().poll(1ms);                                // runs callbacks
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>

#include "core/proto/nvme.hpp"
#include "core/proto/status.hpp"
#include "tools/host/queue.hpp"

namespace nvmfd::host {

class IoQueue {
public:
    explicit IoQueue(std::unique_ptr<Queue> queue) : queue_(std::move(queue)) {}

    Queue& queue() { return *queue_; }
    uint16_t qid() const { return queue_->qid(); }

    // The span's size is the transfer length put in the SGL; `nblocks` is
    // 1-based. A mismatch is left for the target to judge.
    proto::Status read(uint32_t nsid, uint64_t lba, uint32_t nblocks, std::span<std::byte> out);
    proto::Status write(uint32_t nsid, uint64_t lba, uint32_t nblocks, std::span<const std::byte> data,
                        DataPlacement placement = DataPlacement::Auto);
    proto::Status compare(uint32_t nsid, uint64_t lba, uint32_t nblocks, std::span<const std::byte> data);
    proto::Status flush(uint32_t nsid);
    proto::Status write_zeroes(uint32_t nsid, uint64_t lba, uint32_t nblocks, bool deallocate = false);
    proto::Status deallocate(uint32_t nsid, std::span<const proto::DsmRange> ranges);

    Completion execute(const proto::Sqe& sqe, const Transfer& transfer = Transfer::none(),
                       std::chrono::milliseconds timeout = std::chrono::milliseconds(0)) {
        return queue_->execute(sqe, transfer, timeout);
    }
    // Fabrics Disconnect of this queue (targets may not support it).
    Completion disconnect();

private:
    std::unique_ptr<Queue> queue_;
};

}  // namespace nvmfd::host
