// What a host asks for when it opens an NVMe/TCP connection (ICReq) and what
// the two ends agreed on afterwards (ICResp).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>

#include "tools/host/tls_client.hpp"

namespace nvmfd::host {

struct TransportOptions {
    uint8_t hpda = 0;           // 0's based dwords of alignment we want for C2H data
    bool header_digest = false;
    bool data_digest = false;
    uint32_t maxr2t = 0;        // 0's based: outstanding R2Ts per command we accept
    std::chrono::milliseconds connect_timeout{5000};  // TCP connect and ICReq/ICResp each
    // TLS 1.3 with this PSK identity and key before ICReq; null: plaintext.
    std::shared_ptr<const TlsCredentials> tls = nullptr;
};

struct TransportParams {
    uint8_t hpda = 0;
    uint8_t cpda = 0;           // alignment the controller wants for H2C data
    bool header_digest = false;
    bool data_digest = false;
    uint32_t maxh2cdata = 0;    // most data bytes in one H2CData PDU

    uint32_t header_digest_size() const { return header_digest ? 4u : 0u; }
    uint32_t data_digest_size() const { return data_digest ? 4u : 0u; }
    uint32_t h2c_alignment() const { return (cpda + 1u) * 4u; }
    uint32_t c2h_alignment() const { return (hpda + 1u) * 4u; }
};

}  // namespace nvmfd::host
