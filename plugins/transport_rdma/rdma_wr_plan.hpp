// Splitting one command's data into RDMA work requests: each READ or WRITE
// names one contiguous piece of the host's buffer (the keyed SGL) and at
// most max_sge pieces of ours. Our pieces must lie in memory the device
// knows (registered regions); memory outside them (a backend's own, lent
// for a read) is reported so that the caller copies it into pool pages.
// No verbs here: unit-tested on any machine.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <sys/uio.h>
#include <vector>

namespace nvmfd::plugins::rdma {

// One scatter entry, laid out like ibv_sge.
struct LocalSge {
    uint64_t addr;
    uint32_t length;
    uint32_t lkey;
};

// One work request: sges[first, first + count) against the host's buffer
// at remote_offset.
struct WrChunk {
    uint32_t first_sge;
    uint32_t sge_count;
    uint32_t remote_offset;
    uint32_t length;
};

// Memory the device may use. `device_base` is what the device is given for
// `base` (the same address, except for the shared zero page, which each
// device lane backs with a registered page of its own).
struct MemoryRegion {
    const void* base;
    size_t size;
    uint32_t lkey;
    uint64_t device_base;
};

// Plans `length` bytes of `iov`. Returns false (and plans nothing) when a
// piece lies outside every region or the iovecs hold fewer bytes.
bool plan_transfer(std::span<const iovec> iov, uint32_t length, uint32_t max_sge,
                   std::span<const MemoryRegion> regions, std::vector<LocalSge>& sges,
                   std::vector<WrChunk>& chunks);

// Work requests a command of `length` bytes may need at most: one scatter
// entry per 4 KiB page it touches (pool pages and zero pages are never
// bigger), max_sge entries per work request.
uint32_t max_wrs_for_length(uint32_t length, uint32_t max_sge);

}  // namespace nvmfd::plugins::rdma
