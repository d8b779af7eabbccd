// CRC32C (Castagnoli) for NVMe/TCP header and data digests, through ISA-L's
// crc32_iscsi (PCLMUL/AVX-512 code paths chosen at run time).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <sys/uio.h>

namespace nvmfd::proto {

// Streaming form: start with kCrc32cInit, feed update(), finish with crc32c_final().
inline constexpr uint32_t kCrc32cInit = 0xffffffffu;
uint32_t crc32c_update(uint32_t crc, const void* data, size_t len);
constexpr uint32_t crc32c_final(uint32_t crc) { return crc ^ 0xffffffffu; }

inline uint32_t crc32c(const void* data, size_t len) { return crc32c_final(crc32c_update(kCrc32cInit, data, len)); }

// Digest over a scatter list, covering `len` bytes from the start.
uint32_t crc32c(std::span<const iovec> iov, size_t len);

}  // namespace nvmfd::proto
