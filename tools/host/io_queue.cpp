#include "tools/host/io_queue.hpp"

#include "tools/host/commands.hpp"

namespace nvmfd::host {

proto::Status IoQueue::read(uint32_t nsid, uint64_t lba, uint32_t nblocks, std::span<std::byte> out) {
    return execute(cmd::read(nsid, lba, nblocks), Transfer::from_controller(out)).status;
}

proto::Status IoQueue::write(uint32_t nsid, uint64_t lba, uint32_t nblocks, std::span<const std::byte> data,
                             DataPlacement placement) {
    return execute(cmd::write(nsid, lba, nblocks), Transfer::to_controller(data, placement)).status;
}

proto::Status IoQueue::compare(uint32_t nsid, uint64_t lba, uint32_t nblocks, std::span<const std::byte> data) {
    return execute(cmd::compare(nsid, lba, nblocks), Transfer::to_controller(data)).status;
}

proto::Status IoQueue::flush(uint32_t nsid) { return execute(cmd::flush(nsid)).status; }

proto::Status IoQueue::write_zeroes(uint32_t nsid, uint64_t lba, uint32_t nblocks, bool deallocate) {
    return execute(cmd::write_zeroes(nsid, lba, nblocks, deallocate)).status;
}

proto::Status IoQueue::deallocate(uint32_t nsid, std::span<const proto::DsmRange> ranges) {
    return execute(cmd::dataset_management(nsid, static_cast<uint32_t>(ranges.size()), true),
                   Transfer::to_controller(std::as_bytes(ranges)))
        .status;
}

Completion IoQueue::disconnect() { return execute(cmd::disconnect()); }

}  // namespace nvmfd::host
