// One command slot of an NVMe/TCP queue: the core's Request plus what the
// transport needs to move its data (R2T progress, the PDU headers it sends).
#pragma once

#include <cstdint>
#include <vector>

#include "core/plugin/request.hpp"
#include "core/proto/tcp_pdu.hpp"
#include "plugins/transport_tcp/tx_queue.hpp"

namespace nvmfd::plugins::tcp {

class TcpConnection;

enum class SlotState : uint8_t {
    Free,
    ReceivingData,  // prepared; the transport is fetching its write data
    Executing,      // owned by the core until queue_response()
    Sending,        // response queued for the socket
};

enum class TxKind : uint8_t { R2T, Response };

struct TcpRequest final : plugin::Request, TxItem {
    TcpRequest(TcpConnection& conn, uint16_t ttag, size_t iov_slots);

    void emit(IovEmitter& e) const override;
    void on_sent() override;

    TcpConnection& conn;
    const uint16_t ttag;
    SlotState state = SlotState::Free;
    TxKind tx_kind = TxKind::Response;

    // Write data fetched so far (in-capsule or H2CData) and a digest failure seen on the way.
    uint32_t data_received = 0;
    bool data_digest_failed = false;

    // What goes out: [hdr][pad][data][ddgst][resp]
    alignas(8) uint8_t hdr[32];
    uint8_t hdr_len = 0;
    uint8_t pad_len = 0;
    uint32_t data_len = 0;
    uint32_t ddgst = 0;
    bool send_ddgst = false;
    alignas(8) uint8_t resp[32];
    uint8_t resp_len = 0;

    std::vector<iovec> iovs;
};

}  // namespace nvmfd::plugins::tcp
