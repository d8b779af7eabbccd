// The receive side of an NVMe/RDMA queue: capsules from the shared receive
// queue, in-capsule write data, and write data fetched with RDMA READ.
#include <algorithm>
#include <cstring>
#include <utility>

#include "core/runtime/log.hpp"
#include "plugins/transport_rdma/rdma_lane.hpp"
#include "plugins/transport_rdma/rdma_queue.hpp"

namespace nvmfd::plugins::rdma {

using proto::DataDirection;

void RdmaQueue::on_receive(RdmaLane& lane, const ibv_wc& wc) {
    const uint32_t buffer = wr_index(wc.wr_id);
    if (wc.status != IBV_WC_SUCCESS || closing_) {
        lane.repost(buffer);
        if (wc.status != IBV_WC_SUCCESS && wc.status != IBV_WC_WR_FLUSH_ERR && !closing_) {
            log::notice("rdma: {}: receive failed: {}; closing the queue", peer_, ::ibv_wc_status_str(wc.status));
            close(fmt::format("receive failed: {}", ::ibv_wc_status_str(wc.status)));
        }
        return;
    }
    if (wc.byte_len < sizeof(proto::Sqe)) {
        lane.repost(buffer);
        log::notice("rdma: {}: a capsule of {} bytes, shorter than a command; closing the queue", peer_, wc.byte_len);
        close("capsule shorter than a command");
        return;
    }
    RdmaRequest* r = take_slot();
    if (!r) {
        lane.repost(buffer);
        log::notice("rdma: {}: more commands outstanding than the queue's depth ({}); closing the queue", peer_,
                    slots_.empty() ? 1 : slots_.size());
        close("more commands than the queue holds");
        return;
    }
    const uint8_t* capsule = lane.receive_buffer(buffer);
    std::memcpy(&r->sqe, capsule, sizeof r->sqe);
    const uint32_t capsule_data = wc.byte_len - static_cast<uint32_t>(sizeof(proto::Sqe));
    r->invalidate_key = false;
    if (!handler_->prepare(*r)) {
        lane.repost(buffer);  // completed with an error; any data that came with it is ignored
        return;
    }
    // As the kernel's nvmet-rdma: only a key whose transfer was accepted is
    // invalidated (a refused command's key stays the host's to invalidate).
    r->invalidate_key = r->sqe.sgl.type == proto::sgl::kKeyedInvalidate && r->transfer_length > 0;
    r->reserve_iovs(r->transfer_length);
    if (r->direction != DataDirection::HostToController || r->transfer_length == 0) {
        lane.repost(buffer);
        handler_->execute(*r);
        return;
    }
    if (r->sqe.sgl.type == proto::sgl::kInCapsule) {
        // prepare() checked offset 0 and the length against IOCCSZ; the
        // capsule itself must hold that much.
        if (capsule_data < r->transfer_length) {
            lane.repost(buffer);
            handler_->fail(*r, proto::status::kSglLengthInvalid);
            return;
        }
        r->held_receive = static_cast<int32_t>(buffer);
    } else {
        lane.repost(buffer);
        r->fetching = true;
    }
    if (!move_slot(*r, SlotState::WaitingBuffers)) return;
    if (!waiting_buffers_.empty() || !take_pool_buffers(*r)) {
        waiting_buffers_.push_back(r);
        reactor().buffers().wait(*this);
        return;
    }
    data_fetched(*r);
}

bool RdmaQueue::take_pool_buffers(RdmaRequest& r) {
    size_t n = reactor().buffers().allocate(r.transfer_length, r.iov_storage);
    if (n == 0) return false;
    r.iov_count = static_cast<uint32_t>(n);
    r.buffer_owner = plugin::BufferOwner::Pool;
    return true;
}

// The command's pages are there: copy its in-capsule data, or read the host's.
void RdmaQueue::data_fetched(RdmaRequest& r) {
    if (r.held_receive < 0) {
        build_reads(r);
        return;
    }
    const uint8_t* src = lane_->receive_buffer(static_cast<uint32_t>(r.held_receive)) + sizeof(proto::Sqe);
    uint32_t left = r.transfer_length;
    for (const iovec& v : r.data()) {
        size_t n = std::min<size_t>(v.iov_len, left);
        std::memcpy(v.iov_base, src, n);
        src += n;
        left -= static_cast<uint32_t>(n);
    }
    lane_->repost(static_cast<uint32_t>(std::exchange(r.held_receive, -1)));
    if (!move_slot(r, SlotState::Executing)) return;
    handler_->execute(r);
}

void RdmaQueue::build_reads(RdmaRequest& r) {
    if (!plan_transfer(r.data(), r.transfer_length, max_read_sge_, lane_->regions(), r.sges, r.chunks)) {
        internal_error("pool pages outside the registered region");
        return;
    }
    const proto::SglDescriptor& sgl = r.sqe.sgl;
    const auto count = static_cast<uint32_t>(r.chunks.size());
    if (r.wrs.size() < count) r.wrs.resize(count);
    for (uint32_t i = 0; i < count; ++i) {
        const WrChunk& c = r.chunks[i];
        const bool last = i + 1 == count;
        ibv_send_wr& wr = r.wrs[i];
        wr = ibv_send_wr{};
        // Only the last READ is signaled: completions come in order, so it
        // says all of them are done (and gives back their send queue room).
        wr.wr_id = wr_id(last ? WrKind::ReadLast : WrKind::ReadPart, r.index);
        wr.sg_list = reinterpret_cast<ibv_sge*>(&r.sges[c.first_sge]);
        wr.num_sge = static_cast<int>(c.sge_count);
        wr.opcode = IBV_WR_RDMA_READ;
        wr.send_flags = last ? IBV_SEND_SIGNALED : 0;
        wr.wr.rdma.remote_addr = sgl.address + c.remote_offset;
        wr.wr.rdma.rkey = sgl.key();
    }
    r.wr_count = count;
    submit(r);
}

void RdmaQueue::on_buffers_available() {
    if (closing_) return;
    while (!waiting_buffers_.empty()) {
        RdmaRequest& r = *waiting_buffers_.front();
        bool got = r.fetching || r.held_receive >= 0 ? take_pool_buffers(r) : bounce_read_data(r);
        if (!got) {
            reactor().buffers().wait(*this);
            return;
        }
        waiting_buffers_.pop_front();
        if (r.fetching || r.held_receive >= 0) data_fetched(r);
        else send_response(r);
        if (closing_) return;
    }
}

}  // namespace nvmfd::plugins::rdma
