#include "core/proto/crc32c.hpp"

#include <algorithm>
#include <isa-l/crc.h>

namespace nvmfd::proto {

uint32_t crc32c_update(uint32_t crc, const void* data, size_t len) {
    // ISA-L's crc32_iscsi neither pre- nor post-inverts: it is a pure update step.
    return crc32_iscsi(static_cast<unsigned char*>(const_cast<void*>(data)), static_cast<int>(len), crc);
}

uint32_t crc32c(std::span<const iovec> iov, size_t len) {
    uint32_t crc = kCrc32cInit;
    for (const iovec& v : iov) {
        if (len == 0) break;
        size_t n = std::min(len, v.iov_len);
        crc = crc32c_update(crc, v.iov_base, n);
        len -= n;
    }
    return crc32c_final(crc);
}

}  // namespace nvmfd::proto
