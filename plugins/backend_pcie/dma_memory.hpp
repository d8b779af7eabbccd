// Memory the PCIe backend owns for a drive's DMA: queues, PRP list pages,
// Identify buffers (docs/pcie-design.md 2.3). One anonymous mapping each,
// populated, zeroed, kept out of forked children (pinned pages must not be
// shared copy-on-write), mapped once through the VFIO IOMMU and unmapped
// when the block goes. The reactors' buffer pools are mapped separately
// (PoolMapping in queue_pair.cpp): they are the core's, not the backend's.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "core/runtime/error.hpp"
#include "plugins/backend_pcie/vfio_container.hpp"

namespace nvmfd::plugins::pcie {

class DmaBlock {
public:
    // `bytes` rounded up to whole pages.
    static Result<std::unique_ptr<DmaBlock>> allocate(std::shared_ptr<VfioContainer> container, size_t bytes);
    ~DmaBlock();
    DmaBlock(const DmaBlock&) = delete;
    DmaBlock& operator=(const DmaBlock&) = delete;

    uint8_t* data() const { return data_; }
    size_t size() const { return size_; }
    uint64_t iova() const { return iova_; }
    // The device's address of `p`, which lies in this block.
    uint64_t iova_of(const void* p) const { return iova_ + uint64_t(static_cast<const uint8_t*>(p) - data_); }

private:
    DmaBlock(std::shared_ptr<VfioContainer> c, uint8_t* data, size_t size)
        : container_(std::move(c)), data_(data), size_(size) {}

    std::shared_ptr<VfioContainer> container_;
    uint8_t* data_;
    size_t size_;
    uint64_t iova_ = 0;
    bool mapped_ = false;
};

}  // namespace nvmfd::plugins::pcie
