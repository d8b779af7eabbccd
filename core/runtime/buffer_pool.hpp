// Per-reactor pool of 4 KiB data pages. A command's data buffer is a list of
// pages (an iovec array) taken from the pool of the reactor that owns its
// queue, so no allocation or lock happens per command. Pages are 4 KiB
// aligned, which also satisfies O_DIRECT.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <sys/uio.h>
#include <vector>

namespace nvmfd::runtime {

class BufferPool {
public:
    static constexpr size_t kPageSize = 4096;

    // Someone waiting for pages; notified in FIFO order when pages are freed.
    class Waiter {
    public:
        virtual void on_buffers_available() = 0;
    protected:
        ~Waiter() = default;
    private:
        friend class BufferPool;
        Waiter* next_waiter_ = nullptr;
        bool waiting_ = false;
    };

    explicit BufferPool(size_t bytes);
    ~BufferPool();
    BufferPool(const BufferPool&) = delete;
    BufferPool& operator=(const BufferPool&) = delete;

    // Fill `out` with iovecs covering `len` bytes. Adjacent pages are merged
    // into one iovec. Returns the number of iovecs used, or 0 when the pool
    // cannot satisfy the request right now (nothing is taken in that case).
    size_t allocate(size_t len, std::span<iovec> out);
    // Return pages; iovecs that point at the zero page are skipped.
    void release(std::span<const iovec> iov);

    // A shared, read-only page of zeroes for data that is known to be zero
    // (the tail of a log page a host reads past its end): such data costs
    // no pool pages, whatever length a host asks for. Writing to it faults.
    static void* zero_page();
    // Fill `out` with iovecs of the zero page covering `len` bytes; returns
    // how many were used, or 0 if `out` is too short.
    static size_t zero_iovecs(size_t len, std::span<iovec> out);

    // Ask to be called back once pages are returned.
    void wait(Waiter& w);
    void cancel_wait(Waiter& w);

    size_t free_pages() const { return free_.size(); }
    size_t total_pages() const { return total_pages_; }
    bool owns(const void* p) const;
    // All of the pool's pages, one contiguous mapping that never moves: what
    // a transport registers once for DMA (RDMA memory registration). The
    // zero page is not part of it.
    std::span<std::byte> region() const { return {base_, total_pages_ * kPageSize}; }

    static size_t pages_for(size_t len) { return (len + kPageSize - 1) / kPageSize; }

private:
    void notify_waiters();

    std::byte* base_ = nullptr;
    size_t total_pages_ = 0;
    std::vector<uint32_t> free_;  // stack of free page indices
    Waiter* wait_head_ = nullptr;
    Waiter* wait_tail_ = nullptr;
    bool notifying_ = false;
};

}  // namespace nvmfd::runtime
