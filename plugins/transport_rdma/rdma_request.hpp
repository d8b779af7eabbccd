// One command slot of an NVMe/RDMA queue: the core's Request plus where the
// host's buffer is, the work requests that move its data and response, and
// the send queue room they hold.
#pragma once

#include <cstdint>
#include <infiniband/verbs.h>
#include <vector>

#include "core/plugin/request.hpp"
#include "plugins/transport_rdma/rdma_slot_state.hpp"
#include "plugins/transport_rdma/rdma_wr_plan.hpp"

namespace nvmfd::plugins::rdma {

static_assert(sizeof(LocalSge) == sizeof(ibv_sge) && offsetof(LocalSge, lkey) == offsetof(ibv_sge, lkey));

// What a completion's wr_id says: the kind of work request and the slot
// (or, for receives, the receive buffer) it belongs to. The queue is found
// by the completion's qp_num, so that a late completion never reaches a
// queue that is gone.
enum class WrKind : uint8_t { Receive = 0, ReadLast = 1, ReadPart = 2, Write = 3, Send = 4 };
constexpr uint64_t wr_id(WrKind kind, uint32_t index) { return (uint64_t(index) << 3) | uint64_t(kind); }
constexpr WrKind wr_kind(uint64_t id) { return WrKind(id & 7); }
constexpr uint32_t wr_index(uint64_t id) { return uint32_t(id >> 3); }

// Scatter entries a command of `length` bytes may need: its pool pages,
// twice for Compare's media copy, plus slack (as NVMe/TCP's slots).
inline size_t iov_slots_for_length(uint32_t length) { return 2 * ((size_t(length) + 4095) / 4096 + 1); }

struct RdmaRequest final : plugin::Request {
    explicit RdmaRequest(uint16_t slot_index) : index(slot_index) {}

    const uint16_t index;  // 0: the bootstrap slot that carries Connect; then 1..depth
    SlotState state = SlotState::Free;

    // A receive buffer whose in-capsule data waits for pool pages; -1: none.
    int32_t held_receive = -1;
    // Send queue entries this slot has posted (or queued to post) and not
    // yet got back: returned by its one signaled work request's completion.
    uint32_t sq_entries = 0;
    bool fetching = false;  // the prepared work requests read write data (else: the response)
    // The host asked for its key to be invalidated by the response (keyed
    // SGL subtype Invalidate Key) and the command was accepted with data.
    bool invalidate_key = false;

    // Read data that lay outside registered memory, copied into pool pages.
    std::vector<iovec> bounce;
    uint32_t bounce_count = 0;

    // The plan and the work requests built from it. Each grows to what the
    // slot's largest command needed and stays: nothing is allocated per
    // command once a queue has warmed up.
    std::vector<LocalSge> sges;
    std::vector<WrChunk> chunks;
    std::vector<ibv_send_wr> wrs;
    uint32_t wr_count = 0;
    ibv_sge response_sge{};  // the CQE, sent inline

    void reserve_iovs(uint32_t transfer_length) {
        size_t need = iov_slots_for_length(transfer_length);
        if (iovs.size() >= need) return;
        iovs.resize(need);
        iov_storage = std::span<iovec>(iovs);
    }
    std::vector<iovec> iovs;
};

}  // namespace nvmfd::plugins::rdma
