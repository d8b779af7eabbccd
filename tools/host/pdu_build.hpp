// Building the PDUs a host sends (ICReq, CapsuleCmd, H2CData, H2CTermReq).
// The in-place forms write a header area (header, header digest, padding up
// to PDO) into a fixed block that the queue keeps per command; the vector
// forms assemble whole PDUs for raw hostile-input tests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "core/proto/nvme.hpp"
#include "core/proto/tcp_pdu.hpp"
#include "tools/host/transport_params.hpp"

namespace nvmfd::host::pdu {

// Header plus digest plus padding never exceeds this: the largest alignment
// (CPDA 31) is 128 bytes and the largest host header (72 + 4) is below it.
inline constexpr size_t kHeaderArea = 128;
using HeaderArea = std::span<std::byte, kHeaderArea>;

constexpr uint32_t align_up(uint32_t value, uint32_t alignment) {
    return (value + alignment - 1) / alignment * alignment;
}

proto::tcp::ICReq build_icreq(const TransportOptions& options);

// Offset of the data in a host-to-controller PDU with a header of `hlen` bytes.
uint32_t h2c_data_offset(uint8_t hlen, const TransportParams& params);

// Writes a CapsuleCmd header area for `in_capsule_length` bytes of data that
// the caller sends right after it; returns the header area's length (PDO
// when there is data). The data digest, if any, is the caller's to append.
size_t build_capsule_header(HeaderArea out, const proto::Sqe& sqe, uint32_t in_capsule_length,
                            const TransportParams& params);

struct H2CDataFields {
    uint16_t cccid = 0;
    uint16_t ttag = 0;
    uint32_t datao = 0;
    uint32_t datal = 0;
    bool last = false;
};
size_t build_h2c_data_header(HeaderArea out, const H2CDataFields& fields, const TransportParams& params);

// Whole PDUs, digests included, for raw tests.
std::vector<std::byte> icreq_bytes(const TransportOptions& options);
std::vector<std::byte> capsule_bytes(const proto::Sqe& sqe, std::span<const std::byte> in_capsule_data,
                                     const TransportParams& params);
std::vector<std::byte> h2c_data_bytes(const H2CDataFields& fields, std::span<const std::byte> data,
                                      const TransportParams& params);
std::vector<std::byte> h2c_term_req_bytes(proto::tcp::TermFes fes, uint32_t fei,
                                          std::span<const std::byte> offending_header);

template <typename T>
std::span<const std::byte> as_bytes_of(const T& value) {
    return std::span<const std::byte>(reinterpret_cast<const std::byte*>(&value), sizeof(T));
}

}  // namespace nvmfd::host::pdu
