// The send side of an NVMe/RDMA queue: responses (read data as RDMA WRITEs
// chained in front of the response SEND), send queue room, and the batched
// post at the end of the loop turn.
#include <algorithm>
#include <cstring>
#include <utility>

#include "core/runtime/log.hpp"
#include "plugins/transport_rdma/rdma_lane.hpp"
#include "plugins/transport_rdma/rdma_queue.hpp"

namespace nvmfd::plugins::rdma {

using proto::DataDirection;

void RdmaQueue::queue_response(plugin::Request& req) {
    auto& r = static_cast<RdmaRequest&>(req);
    if (closing_) {
        // The host will not hear about it; the slot just goes back.
        release_slot(r);
        finish_close_if_drained();
        return;
    }
    r.fetching = false;
    r.chunks.clear();  // nothing to WRITE unless planned below
    const bool with_data =
        r.status().ok() && r.direction == DataDirection::ControllerToHost && r.transfer_length > 0;
    if (with_data &&
        !plan_transfer(r.data(), r.transfer_length, max_sge_, lane_->regions(), r.sges, r.chunks)) {
        // Memory the device does not know (a backend's own, lent for a
        // read): copied into pool pages first.
        if (!move_slot(r, SlotState::WaitingBuffers)) return;
        if (!waiting_buffers_.empty() || !bounce_read_data(r)) {
            waiting_buffers_.push_back(&r);
            reactor().buffers().wait(*this);
            return;
        }
    }
    send_response(r);
}

bool RdmaQueue::bounce_read_data(RdmaRequest& r) {
    if (r.bounce.size() < iov_slots_for_length(r.transfer_length)) r.bounce.resize(iov_slots_for_length(r.transfer_length));
    size_t n = reactor().buffers().allocate(r.transfer_length, r.bounce);
    if (n == 0) return false;
    r.bounce_count = static_cast<uint32_t>(n);
    ++copied_reads_;
    // Gather the lent pieces into the pool pages.
    size_t dst_i = 0, dst_off = 0;
    uint32_t left = r.transfer_length;
    for (const iovec& v : r.data()) {
        auto* src = static_cast<const uint8_t*>(v.iov_base);
        size_t len = std::min<size_t>(v.iov_len, left);
        left -= static_cast<uint32_t>(len);
        while (len) {
            size_t room = r.bounce[dst_i].iov_len - dst_off;
            size_t k = std::min(room, len);
            std::memcpy(static_cast<uint8_t*>(r.bounce[dst_i].iov_base) + dst_off, src, k);
            src += k;
            len -= k;
            dst_off += k;
            if (dst_off == r.bounce[dst_i].iov_len) ++dst_i, dst_off = 0;
        }
        if (!left) break;
    }
    if (!plan_transfer(std::span<const iovec>(r.bounce.data(), n), r.transfer_length, max_sge_, lane_->regions(),
                       r.sges, r.chunks)) {
        internal_error("pool pages outside the registered region");
        return true;  // the queue is closing; the slot goes with it
    }
    return true;
}

// The plan in r.chunks (empty: no data) becomes WRITEs + the SEND.
void RdmaQueue::send_response(RdmaRequest& r) {
    if (closing_) return;
    const auto writes = static_cast<uint32_t>(r.chunks.size());
    if (r.wrs.size() < writes + 1) r.wrs.resize(writes + 1);
    const proto::SglDescriptor& sgl = r.sqe.sgl;
    for (uint32_t i = 0; i < writes; ++i) {
        const WrChunk& c = r.chunks[i];
        ibv_send_wr& wr = r.wrs[i];
        wr = ibv_send_wr{};
        // Unsignaled: the SEND after it completes only once they are done.
        wr.wr_id = wr_id(WrKind::Write, r.index);
        wr.sg_list = reinterpret_cast<ibv_sge*>(&r.sges[c.first_sge]);
        wr.num_sge = static_cast<int>(c.sge_count);
        wr.opcode = IBV_WR_RDMA_WRITE;
        wr.wr.rdma.remote_addr = sgl.address + c.remote_offset;
        wr.wr.rdma.rkey = sgl.key();
    }
    r.response_sge = ibv_sge{reinterpret_cast<uint64_t>(&r.cqe), sizeof r.cqe, 0};
    ibv_send_wr& send = r.wrs[writes];
    send = ibv_send_wr{};
    send.wr_id = wr_id(WrKind::Send, r.index);
    send.sg_list = &r.response_sge;
    send.num_sge = 1;
    // With Invalidate when the host asked: its device invalidates the key
    // once the WRITEs before are placed, and the host skips its own local
    // invalidate. Otherwise (or on a device that cannot) the host does that
    // itself, which is always correct.
    if (r.invalidate_key && lane_->sends_with_invalidate()) {
        send.opcode = IBV_WR_SEND_WITH_INV;
        send.invalidate_rkey = sgl.key();
    } else {
        send.opcode = IBV_WR_SEND;
    }
    send.send_flags = IBV_SEND_SIGNALED | IBV_SEND_INLINE;
    r.wr_count = writes + 1;
    submit(r);
}

void RdmaQueue::submit(RdmaRequest& r) {
    if (waiting_credits_.empty() && sq_used_ + r.wr_count <= sq_size_) {
        enqueue_prepared(r);
        return;
    }
    if (!move_slot(r, SlotState::WaitingCredits)) return;
    waiting_credits_.push_back(&r);
}

void RdmaQueue::enqueue_prepared(RdmaRequest& r) {
    if (!move_slot(r, r.fetching ? SlotState::Reading : SlotState::Sending)) return;
    for (uint32_t i = 0; i + 1 < r.wr_count; ++i) r.wrs[i].next = &r.wrs[i + 1];
    r.wrs[r.wr_count - 1].next = nullptr;
    if (post_tail_) post_tail_->next = &r.wrs[0];
    else post_head_ = &r.wrs[0];
    post_tail_ = &r.wrs[r.wr_count - 1];
    sq_used_ += r.wr_count;
    r.sq_entries = r.wr_count;
    reactor().defer(*this);
}

void RdmaQueue::post_pending() {
    if (!post_head_ || !qp_ || dead_) return;
    ibv_send_wr* bad = nullptr;
    int rc = ::ibv_post_send(qp_, std::exchange(post_head_, nullptr), &bad);
    post_tail_ = nullptr;
    if (rc != 0) internal_error(fmt::format("ibv_post_send: {}", std::strerror(rc)));
}

void RdmaQueue::return_credits(uint32_t n) {
    sq_used_ -= std::min(n, sq_used_);
    while (!waiting_credits_.empty() && !closing_) {
        RdmaRequest& r = *waiting_credits_.front();
        if (sq_used_ + r.wr_count > sq_size_) break;
        waiting_credits_.pop_front();
        enqueue_prepared(r);
    }
}

void RdmaQueue::on_send_completion(const ibv_wc& wc) {
    const WrKind kind = wr_kind(wc.wr_id);
    RdmaRequest* r = slot_by_index(wr_index(wc.wr_id));
    const bool failed = wc.status != IBV_WC_SUCCESS;
    if (failed && !closing_) {
        // The host's key was wrong or its memory gone, or the link failed:
        // nothing on this queue can be trusted to complete.
        log::notice("rdma: {}: {} failed: {} (vendor error {:#x}); closing the queue", peer_,
                    kind == WrKind::Send ? "a response" : kind == WrKind::Write ? "an RDMA WRITE" : "an RDMA READ",
                    ::ibv_wc_status_str(wc.status), wc.vendor_err);
        close(fmt::format("work request failed: {}", ::ibv_wc_status_str(wc.status)));
    }
    if (!r || kind == WrKind::ReadPart || kind == WrKind::Write) return;  // unsignaled: only seen when failed
    return_credits(std::exchange(r->sq_entries, 0));
    if (kind == WrKind::ReadLast) {
        if (!failed && !closing_ && r->state == SlotState::Reading && move_slot(*r, SlotState::Executing))
            handler_->execute(*r);
    } else if (r->state == SlotState::Sending) {
        release_slot(*r);
    }
    finish_close_if_drained();
}

}  // namespace nvmfd::plugins::rdma
