#include "tools/host/send_queue.hpp"

#include <climits>

namespace nvmfd::host {

void SendQueue::push(const void* data, size_t length) {
    if (length == 0) return;
    if (empty()) {
        iov_.clear();
        head_ = 0;
    }
    iov_.push_back(iovec{const_cast<void*>(data), length});
    queued_ += length;
}

bool SendQueue::flush(Socket& socket) {
    while (!empty()) {
        size_t count = iov_.size() - head_;
        IoResult r = socket.send_some(&iov_[head_], count < IOV_MAX ? count : IOV_MAX);
        if (r.status == IoStatus::Closed) return false;
        if (r.status == IoStatus::WouldBlock) break;
        sent_ += r.bytes;
        size_t left = r.bytes;
        while (left > 0 && left >= iov_[head_].iov_len) left -= iov_[head_++].iov_len;
        if (left > 0) {
            iov_[head_].iov_base = static_cast<std::byte*>(iov_[head_].iov_base) + left;
            iov_[head_].iov_len -= left;
        }
    }
    if (empty()) {
        iov_.clear();
        head_ = 0;
    } else if (head_ > 4096 && head_ * 2 > iov_.size()) {
        // A socket that stays full: drop what was sent so the list stays bounded.
        iov_.erase(iov_.begin(), iov_.begin() + static_cast<ptrdiff_t>(head_));
        head_ = 0;
    }
    return true;
}

}  // namespace nvmfd::host
