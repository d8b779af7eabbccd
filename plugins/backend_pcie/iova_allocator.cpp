#include "plugins/backend_pcie/iova_allocator.hpp"

#include <algorithm>

namespace nvmfd::plugins::pcie {

IovaAllocator::IovaAllocator(std::vector<IovaRange> usable, uint64_t page) : page_(page) {
    for (const IovaRange& r : usable) {
        if (r.last < kLowest || r.last < r.start) continue;
        uint64_t start = std::max(r.start, kLowest);
        start = (start + page_ - 1) & ~(page_ - 1);
        const uint64_t end = r.last == UINT64_MAX ? (UINT64_MAX & ~(page_ - 1)) : ((r.last + 1) & ~(page_ - 1));
        if (end > start) free_[start] = end;
    }
}

std::optional<uint64_t> IovaAllocator::allocate(uint64_t size, uint64_t vaddr) {
    if (size == 0 || size % page_) return std::nullopt;
    const uint64_t want = vaddr % kLargePage & ~(page_ - 1);  // iova % 2 MiB == vaddr % 2 MiB
    for (auto it = free_.begin(); it != free_.end(); ++it) {
        const auto [start, end] = *it;
        // The first address >= start that is congruent to vaddr modulo 2 MiB.
        uint64_t at = (start & ~(kLargePage - 1)) + want;
        if (at < start) at += kLargePage;
        if (at < start || end - at < size || at > end) continue;  // (at < start: wrapped)
        free_.erase(it);
        if (at > start) free_[start] = at;
        if (at + size < end) free_[at + size] = end;
        return at;
    }
    return std::nullopt;
}

void IovaAllocator::release(uint64_t iova, uint64_t size) {
    uint64_t start = iova, end = iova + size;
    auto next = free_.lower_bound(start);
    if (next != free_.end() && next->first == end) {
        end = next->second;
        next = free_.erase(next);
    }
    if (next != free_.begin()) {
        auto prev = std::prev(next);
        if (prev->second == start) {
            start = prev->first;
            free_.erase(prev);
        }
    }
    free_[start] = end;
}

uint64_t IovaAllocator::free_bytes() const {
    uint64_t n = 0;
    for (const auto& [s, e] : free_) n += e - s;
    return n;
}

}  // namespace nvmfd::plugins::pcie
