// One command slot of an NVMe/TCP queue: the core's Request plus what the
// transport needs to move its data (R2T progress, the PDU headers it sends).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/plugin/request.hpp"
#include "core/proto/tcp_pdu.hpp"
#include "plugins/transport_tcp/tx_queue.hpp"

namespace nvmfd::plugins::tcp {

class TcpConnection;

// A slot's life. Every change goes through TcpConnection::move_slot(), which
// refuses a change this table does not allow (an internal error that closes
// the connection): a slot can never be queued or released twice.
//
//   Free -> Executing (prepare) -> Sending -> Free
//   Executing -> WaitingBuffers -> R2TQueued -> AwaitingH2CData -> Executing
//   Executing -> WaitingBuffers -> ReceivingCapsuleData -> Executing
//   Executing -> WaitingBudget -> Executing (a read) or WaitingBuffers (a write)
//   any state but Free -> Free when the connection closes
enum class SlotState : uint8_t {
    Free,
    Executing,             // owned by the core (prepare, execute) until queue_response()
    WaitingBudget,         // parsed, not started: the connection holds max_connection_buffer already
    WaitingBuffers,        // a write waiting for pool pages for its data
    R2TQueued,             // its R2T is in the send queue, not yet on the wire
    AwaitingH2CData,       // its R2T was sent: H2CData for its TTAG is expected
    ReceivingCapsuleData,  // its in-capsule data is being copied in
    Sending,               // response queued for the socket
};

constexpr bool slot_move_allowed(SlotState from, SlotState to) {
    using S = SlotState;
    switch (to) {
    case S::Free: return from != S::Free;
    case S::Executing:
        return from == S::Free || from == S::AwaitingH2CData || from == S::ReceivingCapsuleData ||
               from == S::WaitingBudget;
    case S::WaitingBudget: return from == S::Executing;
    case S::WaitingBuffers: return from == S::Executing || from == S::WaitingBudget;
    case S::R2TQueued: return from == S::WaitingBuffers;
    case S::AwaitingH2CData: return from == S::R2TQueued;
    case S::ReceivingCapsuleData: return from == S::WaitingBuffers;
    case S::Sending: return from == S::Executing;
    }
    return false;
}

constexpr const char* slot_state_name(SlotState s) {
    switch (s) {
    case SlotState::Free: return "Free";
    case SlotState::Executing: return "Executing";
    case SlotState::WaitingBudget: return "WaitingBudget";
    case SlotState::WaitingBuffers: return "WaitingBuffers";
    case SlotState::R2TQueued: return "R2TQueued";
    case SlotState::AwaitingH2CData: return "AwaitingH2CData";
    case SlotState::ReceivingCapsuleData: return "ReceivingCapsuleData";
    case SlotState::Sending: return "Sending";
    }
    return "?";
}

// Scatter entries a command of `length` bytes may need: its pool pages (the
// pool merges adjacent ones), twice for Compare's media copy, plus slack for
// a backend that lends its own memory.
inline size_t iov_slots_for_length(uint32_t length) { return 2 * ((size_t(length) + 4095) / 4096 + 1); }

enum class TxKind : uint8_t { R2T, Response };

struct TcpRequest final : plugin::Request, TxItem {
    TcpRequest(TcpConnection& conn, uint16_t ttag);

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

    // Pool bytes this slot counts against its connection's cap (tcp_flow.cpp).
    uint32_t held_bytes = 0;

    // Scatter storage, grown to what the largest command seen so far needs
    // (an idle slot holds none); iov_storage views it.
    void reserve_iovs(uint32_t transfer_length);
    std::vector<iovec> iovs;
};

}  // namespace nvmfd::plugins::tcp
