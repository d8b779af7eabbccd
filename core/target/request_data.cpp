// Copying between flat buffers and a request's scatter list, for the
// commands whose payload the core builds or reads itself (Identify, log
// pages, Connect data, DSM ranges).
#include <algorithm>
#include <cstring>

#include "core/runtime/buffer_pool.hpp"
#include "core/target/exec.hpp"

namespace nvmfd::target {

void copy_to_request(plugin::Request& req, const void* src, size_t len) {
    auto p = static_cast<const uint8_t*>(src);
    size_t left = std::min<size_t>(len, req.transfer_length);
    for (iovec& v : req.data()) {
        if (left == 0) break;
        // The zero page is read-only; builders size the pool part to their data.
        if (v.iov_base == runtime::BufferPool::zero_page()) break;
        size_t n = std::min(left, v.iov_len);
        std::memcpy(v.iov_base, p, n);
        p += n;
        left -= n;
    }
}

void copy_from_request(plugin::Request& req, void* dst, size_t len) {
    auto p = static_cast<uint8_t*>(dst);
    size_t left = std::min<size_t>(len, req.transfer_length);
    std::memset(dst, 0, len);
    for (iovec& v : req.data()) {
        if (left == 0) break;
        size_t n = std::min(left, v.iov_len);
        std::memcpy(p, v.iov_base, n);
        p += n;
        left -= n;
    }
}

void zero_request_data(plugin::Request& req) {
    for (iovec& v : req.data())
        if (v.iov_base != runtime::BufferPool::zero_page()) std::memset(v.iov_base, 0, v.iov_len);
}

}  // namespace nvmfd::target
