// The life of one command slot of an NVMe/RDMA queue. Every change goes
// through RdmaQueue::move_slot(), which refuses a change this table does
// not allow (an internal error that closes only that queue): a slot can
// never be posted or released twice.
//
//   Free -> Executing (prepare) -> Sending -> Free
//   Executing -> WaitingBuffers -> Executing        (in-capsule data copied out)
//   Executing [-> WaitingBuffers] [-> WaitingCredits] -> Reading -> Executing
//                                                    (RDMA READ of the host's data)
//   Executing [-> WaitingBuffers] [-> WaitingCredits] -> Sending
//                                  (bounce pages, send queue room for the response)
//   any state but Free -> Free when the queue closes
// No verbs here: unit-tested on any machine.
#pragma once

#include <cstdint>

namespace nvmfd::plugins::rdma {

enum class SlotState : uint8_t {
    Free,
    Executing,       // owned by the core (prepare, execute) until queue_response()
    WaitingBuffers,  // waiting for pool pages (write data, or a bounce copy of read data)
    WaitingCredits,  // waiting for room in the queue pair's send queue
    Reading,         // RDMA READs of the host's write data posted
    Sending,         // response (and read data) posted
};

constexpr bool slot_move_allowed(SlotState from, SlotState to) {
    using S = SlotState;
    switch (to) {
    case S::Free: return from != S::Free;
    case S::Executing: return from == S::Free || from == S::WaitingBuffers || from == S::Reading;
    case S::WaitingBuffers: return from == S::Executing;
    case S::WaitingCredits: return from == S::Executing || from == S::WaitingBuffers;
    case S::Reading:
    case S::Sending: return from == S::Executing || from == S::WaitingBuffers || from == S::WaitingCredits;
    }
    return false;
}

constexpr const char* slot_state_name(SlotState s) {
    switch (s) {
    case SlotState::Free: return "Free";
    case SlotState::Executing: return "Executing";
    case SlotState::WaitingBuffers: return "WaitingBuffers";
    case SlotState::WaitingCredits: return "WaitingCredits";
    case SlotState::Reading: return "Reading";
    case SlotState::Sending: return "Sending";
    }
    return "?";
}

}  // namespace nvmfd::plugins::rdma
