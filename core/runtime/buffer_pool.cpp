#include "core/runtime/buffer_pool.hpp"

#include <stdexcept>
#include <sys/mman.h>

namespace nvmfd::runtime {

BufferPool::BufferPool(size_t bytes) : total_pages_(pages_for(bytes)) {
    size_t size = total_pages_ * kPageSize;
    void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) throw std::runtime_error("buffer pool: cannot map data buffers");
    // Transparent huge pages cut TLB misses when data is copied; harmless if refused.
    ::madvise(p, size, MADV_HUGEPAGE);
    base_ = static_cast<std::byte*>(p);
    free_.reserve(total_pages_);
    // Pushed in reverse so that the first allocations come out in address order
    // and merge into few iovecs.
    for (size_t i = total_pages_; i-- > 0;) free_.push_back(static_cast<uint32_t>(i));
}

BufferPool::~BufferPool() {
    if (base_) ::munmap(base_, total_pages_ * kPageSize);
}

bool BufferPool::owns(const void* p) const {
    auto b = static_cast<const std::byte*>(p);
    return b >= base_ && b < base_ + total_pages_ * kPageSize;
}

size_t BufferPool::allocate(size_t len, std::span<iovec> out) {
    size_t pages = pages_for(len);
    if (pages == 0 || pages > free_.size()) return 0;
    size_t used = 0;
    size_t remaining = len;
    for (size_t i = 0; i < pages; ++i) {
        uint32_t idx = free_.back();
        std::byte* page = base_ + size_t(idx) * kPageSize;
        size_t n = remaining < kPageSize ? remaining : kPageSize;
        if (used > 0 && static_cast<std::byte*>(out[used - 1].iov_base) + out[used - 1].iov_len == page) {
            out[used - 1].iov_len += n;
        } else {
            if (used == out.size()) {
                // Not enough iovec slots: undo what we took.
                release(std::span<const iovec>(out.data(), used));
                return 0;
            }
            out[used++] = iovec{page, n};
        }
        free_.pop_back();
        remaining -= n;
    }
    return used;
}

namespace {
alignas(BufferPool::kPageSize) const std::byte kZeroPage[BufferPool::kPageSize] = {};
}

void* BufferPool::zero_page() { return const_cast<std::byte*>(kZeroPage); }

size_t BufferPool::zero_iovecs(size_t len, std::span<iovec> out) {
    size_t used = 0;
    while (len > 0) {
        if (used == out.size()) return 0;
        size_t n = len < kPageSize ? len : kPageSize;
        out[used++] = iovec{zero_page(), n};
        len -= n;
    }
    return used;
}

void BufferPool::release(std::span<const iovec> iov) {
    for (const iovec& v : iov) {
        if (v.iov_base == zero_page()) continue;
        auto start = static_cast<std::byte*>(v.iov_base);
        size_t first = size_t(start - base_) / kPageSize;
        size_t count = pages_for(v.iov_len);
        for (size_t i = 0; i < count; ++i) free_.push_back(static_cast<uint32_t>(first + i));
    }
    if (wait_head_ && !notifying_) notify_waiters();
}

void BufferPool::wait(Waiter& w) {
    if (w.waiting_) return;
    w.waiting_ = true;
    w.next_waiter_ = nullptr;
    if (wait_tail_) wait_tail_->next_waiter_ = &w; else wait_head_ = &w;
    wait_tail_ = &w;
}

void BufferPool::cancel_wait(Waiter& w) {
    if (!w.waiting_) return;
    Waiter* prev = nullptr;
    for (Waiter* cur = wait_head_; cur; prev = cur, cur = cur->next_waiter_) {
        if (cur != &w) continue;
        if (prev) prev->next_waiter_ = cur->next_waiter_; else wait_head_ = cur->next_waiter_;
        if (wait_tail_ == cur) wait_tail_ = prev;
        break;
    }
    w.waiting_ = false;
    w.next_waiter_ = nullptr;
}

void BufferPool::notify_waiters() {
    notifying_ = true;
    // Each waiter retries its allocation; one that still cannot proceed re-queues itself.
    Waiter* list = wait_head_;
    wait_head_ = wait_tail_ = nullptr;
    while (list && !free_.empty()) {
        Waiter* w = list;
        list = list->next_waiter_;
        w->waiting_ = false;
        w->next_waiter_ = nullptr;
        w->on_buffers_available();
    }
    // Waiters not reached go back in front, keeping their order.
    if (list) {
        Waiter* last = list;
        while (last->next_waiter_) last = last->next_waiter_;
        last->next_waiter_ = wait_head_;
        if (!wait_head_) wait_tail_ = last;
        wait_head_ = list;
    }
    notifying_ = false;
}

}  // namespace nvmfd::runtime
