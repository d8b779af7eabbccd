#include "plugins/transport_rdma/rdma_wr_plan.hpp"

#include <algorithm>

namespace nvmfd::plugins::rdma {
namespace {

const MemoryRegion* find_region(std::span<const MemoryRegion> regions, const void* p, size_t len) {
    auto* b = static_cast<const std::byte*>(p);
    for (const MemoryRegion& r : regions) {
        auto* base = static_cast<const std::byte*>(r.base);
        if (b >= base && len <= r.size && size_t(b - base) <= r.size - len) return &r;
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
        if (!n) continue;
        const MemoryRegion* r = find_region(regions, v.iov_base, n);
        if (!r) {
            sges.clear();
            chunks.clear();
            return false;
        }
        if (chunks.empty() || chunks.back().sge_count == max_sge)
            chunks.push_back(WrChunk{static_cast<uint32_t>(sges.size()), 0, offset, 0});
        auto delta = static_cast<uint64_t>(static_cast<const std::byte*>(v.iov_base) -
                                           static_cast<const std::byte*>(r->base));
        sges.push_back(LocalSge{r->device_base + delta, n, r->lkey});
        ++chunks.back().sge_count;
        chunks.back().length += n;
        offset += n;
        left -= n;
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
