// Raw mode for hostile-input tests: send arbitrary bytes or hand-built PDUs
// (see pdu_build.hpp) and see what the target sends back, every wait bounded.
//
//   RawConnection raw = RawConnection::open({"127.0.0.1", port});
//   raw.send(pdu::icreq_bytes({.hpda = 32}));            // HPDA out of range
//   TermRequest t = raw.expect_term_req(2s);              // CHECK(t.fes == 6)
//   CHECK(raw.wait_closed(2s));
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <vector>

#include "core/proto/tcp_pdu.hpp"
#include "tools/host/connection.hpp"
#include "tools/host/socket.hpp"
#include "tools/host/transport_params.hpp"

namespace nvmfd::host {

struct ReceivedPdu {
    proto::tcp::CommonHeader header{};
    std::vector<std::byte> bytes;  // the whole PDU, common header included

    template <typename T>
    T as() const;  // the PDU's fixed header as a proto struct
};

struct TermRequest {
    uint16_t fes = 0;
    uint32_t fei = 0;
    std::vector<std::byte> offending_header;
};

class RawConnection {
public:
    explicit RawConnection(Socket socket);
    static RawConnection open(const Endpoint& endpoint,
                              std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));

    void send(std::span<const std::byte> bytes, std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));
    template <typename T>
    void send_struct(const T& pdu) {
        send(std::span(reinterpret_cast<const std::byte*>(&pdu), sizeof pdu));
    }

    // ICReq as asked; returns the ICResp without judging it (the caller does).
    proto::tcp::ICResp handshake(const TransportOptions& options = {},
                                 std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));

    // Whatever arrives first, up to `max` bytes; empty when the peer closed.
    // Throws TimeoutError when nothing arrives in time.
    std::vector<std::byte> receive_some(size_t max, std::chrono::milliseconds timeout);
    // One whole PDU framed by its PLEN (at most `max_plen`); nullopt when the
    // peer closed before a PDU began.
    std::optional<ReceivedPdu> receive_pdu(std::chrono::milliseconds timeout, size_t max_plen = 1u << 24);
    // The next PDU must be a C2HTermReq; throws ProtocolError naming what came instead.
    TermRequest expect_term_req(std::chrono::milliseconds timeout);
    // True when the peer closes (EOF or reset) within `timeout`; data arriving
    // meanwhile is discarded.
    bool wait_closed(std::chrono::milliseconds timeout);

    Socket& socket() { return socket_; }

private:
    Socket socket_;
    std::vector<std::byte> pending_;  // received but not yet handed out
};

template <typename T>
T ReceivedPdu::as() const {
    T value{};
    std::memcpy(&value, bytes.data(), std::min(sizeof(T), bytes.size()));
    return value;
}

}  // namespace nvmfd::host
