// I/O virtual addresses for the memory nvmfd maps for a drive's DMA
// (docs/pcie-design.md 1.3). Allocated, not equal to the process's virtual
// addresses: an emulated or small IOMMU covers fewer address bits (QEMU's
// VT-d: 39) than user space uses (47). Placed inside the ranges the IOMMU
// says are usable (VFIO_IOMMU_GET_INFO's IOVA ranges), never below 64 KiB
// (a zero IOVA is a bad PRP to some controllers), each block congruent to
// its virtual address modulo 2 MiB so that the IOMMU can use large pages
// where the memory is physically contiguous. First fit; freed blocks are
// reused and merged with their neighbours. Pure: no VFIO here.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <vector>

namespace nvmfd::plugins::pcie {

struct IovaRange {
    uint64_t start = 0;
    uint64_t last = 0;  // inclusive, as VFIO reports it
};

class IovaAllocator {
public:
    static constexpr uint64_t kLowest = 0x10000;
    static constexpr uint64_t kLargePage = 2ull << 20;

    // `page`: the IOMMU's smallest page (a power of two; 4096 on x86).
    IovaAllocator(std::vector<IovaRange> usable, uint64_t page = 4096);

    // An IOVA for `size` bytes (a multiple of the page) of memory at
    // `vaddr`; nullopt when no free range holds it.
    std::optional<uint64_t> allocate(uint64_t size, uint64_t vaddr);
    // Gives back a block that allocate() returned.
    void release(uint64_t iova, uint64_t size);

    uint64_t free_bytes() const;

private:
    uint64_t page_;
    std::map<uint64_t, uint64_t> free_;  // start -> end (exclusive)
};

}  // namespace nvmfd::plugins::pcie
