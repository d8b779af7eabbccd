// Small helpers shared by the NVMe/TCP connection's source files.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <sys/uio.h>

#include "core/proto/crc32c.hpp"
#include "core/proto/tcp_pdu.hpp"
#include "plugins/transport_tcp/tcp_options.hpp"

namespace nvmfd::plugins::tcp::detail {

inline constexpr size_t kDirectReadThreshold = 16 * 1024;  // payloads at least this big bypass the rx buffer
inline constexpr uint16_t kBootstrapTtag = 0;              // slot i of the installed queue has TTAG i + 1
inline constexpr uint8_t kZeroPad[128] = {};

inline bool host_to_controller_type(proto::tcp::PduType t) {
    using proto::tcp::PduType;
    return t == PduType::ICReq || t == PduType::H2CTermReq || t == PduType::CapsuleCmd || t == PduType::H2CData;
}

inline uint32_t round_up(uint32_t v, uint32_t align) { return (v + align - 1) / align * align; }

// Writes a PDU header to out, followed by its header digest when hdgst is
// on; returns how many bytes that took.
template <typename Pdu>
uint8_t put_header(uint8_t* out, const Pdu& pdu, bool hdgst) {
    static_assert(sizeof pdu + proto::tcp::kDigestSize <= 255);
    std::memcpy(out, &pdu, sizeof pdu);
    if (!hdgst) return sizeof pdu;
    uint32_t crc = proto::crc32c(&pdu, sizeof pdu);
    std::memcpy(out + sizeof pdu, &crc, sizeof crc);
    return static_cast<uint8_t>(sizeof pdu + proto::tcp::kDigestSize);
}

// Calls fn(pointer, length) for each piece of bytes [offset, offset + len)
// of a scatter list, in order; stops early when fn returns false.
template <typename Fn>
void for_each_piece(std::span<const iovec> iov, size_t offset, size_t len, Fn&& fn) {
    for (const iovec& v : iov) {
        if (len == 0) return;
        if (offset >= v.iov_len) {
            offset -= v.iov_len;
            continue;
        }
        size_t k = std::min(len, v.iov_len - offset);
        if (!fn(static_cast<uint8_t*>(v.iov_base) + offset, k)) return;
        len -= k;
        offset = 0;
    }
}

}  // namespace nvmfd::plugins::tcp::detail
