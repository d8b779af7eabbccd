#include "plugins/transport_rdma/rdma_wr_plan.hpp"

#include <algorithm>

namespace nvmfd::plugins::rdma {
namespace {

// The region holding the byte at `p`.
const MemoryRegion* find_region(std::span<const MemoryRegion> regions, const void* p) {
    auto* b = static_cast<const std::byte*>(p);
    for (const MemoryRegion& r : regions) {
        auto* base = static_cast<const std::byte*>(r.base);
        if (b >= base && size_t(b - base) < r.size) return &r;
    }
    return nullptr;
}

}  // namespace

bool plan_transfer(std::span<const iovec> iov, uint32_t length, uint32_t max_sge,
                   std::span<const MemoryRegion> regions, std::vector<LocalSge>& sges,
                   std::vector<WrChunk>& chunks) {
    sges.clear();
    chunks.clear();
    if (max_sge == 0) return false;
    uint32_t left = length, offset = 0;
    for (const iovec& v : iov) {
        if (!left) break;
        uint32_t n = static_cast<uint32_t>(std::min<size_t>(v.iov_len, left));
        auto* p = static_cast<const std::byte*>(v.iov_base);
        // A piece that runs from one region into the next (a namespace
        // registered as its first range and the range it grew by) takes a
        // scatter entry in each.
        while (n) {
            const MemoryRegion* r = find_region(regions, p);
            if (!r) {
                sges.clear();
                chunks.clear();
                return false;
            }
            auto delta = static_cast<uint64_t>(p - static_cast<const std::byte*>(r->base));
            auto k = static_cast<uint32_t>(std::min<uint64_t>(n, r->size - delta));
            if (chunks.empty() || chunks.back().sge_count == max_sge)
                chunks.push_back(WrChunk{static_cast<uint32_t>(sges.size()), 0, offset, 0});
            sges.push_back(LocalSge{r->device_base + delta, k, r->lkey});
            ++chunks.back().sge_count;
            chunks.back().length += k;
            offset += k;
            left -= k;
            n -= k;
            p += k;
        }
    }
    if (left) {
        sges.clear();
        chunks.clear();
        return false;
    }
    return true;
}

uint32_t max_wrs_for_length(uint32_t length, uint32_t max_sge) {
    uint32_t pieces = (length + 4095) / 4096 + 1;  // +1: a piece need not start on a page
    return max_sge ? (pieces + max_sge - 1) / max_sge : 0;
}

}  // namespace nvmfd::plugins::rdma
