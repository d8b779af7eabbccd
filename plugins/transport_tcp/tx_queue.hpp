// The send side of a connection: a FIFO of items (responses, R2Ts, control
// PDUs) that is flushed with as few sendmsg() calls as possible, each
// gathering the headers and data of many items. Items describe their bytes
// as iovecs; a partially sent item resumes where the socket stopped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <sys/uio.h>

namespace nvmfd::plugins::tcp {

// Collects iovecs for one sendmsg(), skipping bytes already sent.
struct IovEmitter {
    iovec* out;
    size_t capacity;
    size_t count = 0;
    size_t skip = 0;
    size_t bytes = 0;
    bool full = false;

    void add(const void* p, size_t len) {
        if (full || len == 0) return;
        if (skip >= len) {
            skip -= len;
            return;
        }
        p = static_cast<const uint8_t*>(p) + skip;
        len -= skip;
        skip = 0;
        if (count == capacity) {
            full = true;
            return;
        }
        out[count++] = iovec{const_cast<void*>(p), len};
        bytes += len;
    }
};

class TxItem {
public:
    TxItem* tx_next = nullptr;
    bool tx_queued = false;  // in a TxQueue: a second push is refused
    size_t tx_total = 0;
    size_t tx_sent = 0;

    virtual void emit(IovEmitter& e) const = 0;
    virtual void on_sent() = 0;

protected:
    ~TxItem() = default;
};

class TxQueue {
public:
    bool empty() const { return head_ == nullptr; }
    TxItem* head() const { return head_; }
    // False (and nothing changes) when the item is already queued: pushing
    // it again would make the list loop on itself.
    [[nodiscard]] bool push(TxItem& item) {
        if (item.tx_queued) return false;
        item.tx_queued = true;
        item.tx_next = nullptr;
        item.tx_sent = 0;
        if (tail_) tail_->tx_next = &item; else head_ = &item;
        tail_ = &item;
        return true;
    }
    TxItem* pop() {
        TxItem* i = head_;
        if (!i) return nullptr;
        head_ = i->tx_next;
        if (!head_) tail_ = nullptr;
        i->tx_next = nullptr;
        i->tx_queued = false;
        return i;
    }
    void clear() {
        while (pop()) {
        }
    }

private:
    TxItem* head_ = nullptr;
    TxItem* tail_ = nullptr;
};

}  // namespace nvmfd::plugins::tcp
