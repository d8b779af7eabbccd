// A pcie namespace's channel on one reactor: its shape (nsid, block size,
// what the drive supports) and the reactor's queue pair on the drive, which
// it shares with the channels of the drive's other namespaces.
#pragma once

#include <memory>

#include "plugins/backend_pcie/queue_pair.hpp"

namespace nvmfd::plugins::pcie {

class PcieChannel final : public plugin::IoChannel {
public:
    PcieChannel(std::shared_ptr<QueuePair> queue, const DriveShape& shape)
        : queue_(std::move(queue)), shape_(queue_->fit(shape)) {
        queue_->add_channel();
    }
    ~PcieChannel() override { queue_->remove_channel(); }
    void submit(plugin::BlockIo& io) override { queue_->submit(io, shape_); }

private:
    std::shared_ptr<QueuePair> queue_;
    const DriveShape shape_;
};

// What a reactor gets when it cannot have a queue pair on the drive (the
// drive granted no more queues, or is gone): every command fails with a
// status that lets the host retry elsewhere.
class UnavailableChannel final : public plugin::IoChannel {
public:
    void submit(plugin::BlockIo& io) override { io.complete(plugin::IoStatus::Unavailable); }
};

}  // namespace nvmfd::plugins::pcie
