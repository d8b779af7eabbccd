// What one reactor keeps per RDMA device (a "lane"): a protection domain, one
// completion queue shared by all its queue pairs on the device (with a
// completion channel whose fd is in the reactor's epoll set), one shared
// receive queue of capsule buffers, and the memory registrations of the
// reactor's buffer pool, of a zero page and of the memory backends lend for
// reads. Reactor thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <infiniband/verbs.h>
#include <memory>
#include <vector>

#include "core/runtime/error.hpp"
#include "core/runtime/reactor.hpp"
#include "plugins/transport_rdma/rdma_options.hpp"
#include "plugins/transport_rdma/rdma_wr_plan.hpp"

namespace nvmfd::plugins::rdma {

class RdmaReactor;

class RdmaLane final : private runtime::FdHandler, private runtime::Deferred {
public:
    static Result<std::unique_ptr<RdmaLane>> create(RdmaReactor& owner, runtime::Reactor& reactor, ibv_context* ctx,
                                                    const RdmaOptions& options);
    ~RdmaLane();
    RdmaLane(const RdmaLane&) = delete;
    RdmaLane& operator=(const RdmaLane&) = delete;

    ibv_context* context() const { return ctx_; }
    ibv_pd* pd() const { return pd_; }
    ibv_cq* cq() const { return cq_; }
    ibv_srq* srq() const { return srq_; }
    const ibv_device_attr& device() const { return attr_; }
    std::span<const MemoryRegion> regions() const { return regions_; }
    // Memory a backend lends for reads: registered, read data is sent from
    // it without a copy. A range the device refuses (locked-memory limit,
    // size) is logged and left out: its reads are copied, as before.
    void register_lent(std::span<const std::byte> range);
    void deregister_lent(std::span<const std::byte> range);
    // Responses may be SENDs with Invalidate (the setting is on and the
    // device has the memory management extensions).
    bool sends_with_invalidate() const { return sends_with_invalidate_; }

    // Completion queue entries a queue pair may produce (its send queue);
    // refused when the lane's completion queue has no room for them.
    bool reserve_completions(uint32_t n);
    void release_completions(uint32_t n);

    const uint8_t* receive_buffer(uint32_t index) const { return buffers_.get() + size_t(index) * buffer_size_; }
    uint32_t receive_buffer_size() const { return buffer_size_; }
    // Give a receive buffer back to the shared receive queue (posted at the
    // end of the loop turn, in one call with the others).
    void repost(uint32_t index);

    // Reap completions; true if there were any.
    bool poll();
    // The reactor is about to sleep: ask for a wakeup, then look once more
    // (a completion between the last poll and the request would not wake it).
    bool arm();

private:
    RdmaLane(RdmaReactor& owner, runtime::Reactor& reactor, ibv_context* ctx);
    void on_fd_event(uint32_t events) override;
    void run_deferred() override { post_receives(); }
    void post_receives();
    bool reap(int max_batches);

    RdmaReactor& owner_;
    runtime::Reactor& reactor_;
    ibv_context* ctx_;
    ibv_device_attr attr_{};
    ibv_pd* pd_ = nullptr;
    ibv_comp_channel* channel_ = nullptr;
    ibv_cq* cq_ = nullptr;
    ibv_srq* srq_ = nullptr;
    ibv_mr* pool_mr_ = nullptr;
    ibv_mr* buffers_mr_ = nullptr;
    ibv_mr* zero_mr_ = nullptr;
    std::unique_ptr<uint8_t[]> buffers_;
    uint32_t buffer_size_ = 0;
    uint32_t buffer_count_ = 0;
    void* zero_page_ = nullptr;
    // The pool and the zero page first, then the lent ranges' pieces.
    std::vector<MemoryRegion> regions_;
    struct LentRegistration {
        const std::byte* base;
        std::vector<ibv_mr*> mrs;  // pieces of at most the device's max_mr_size
    };
    std::vector<LentRegistration> lent_;

    std::vector<ibv_sge> recv_sges_;
    std::vector<ibv_recv_wr> recv_wrs_;
    ibv_recv_wr* repost_head_ = nullptr;
    ibv_recv_wr* repost_tail_ = nullptr;

    uint32_t cq_size_ = 0;
    uint32_t cq_reserved_ = 0;
    bool sends_with_invalidate_ = false;
    bool armed_ = false;
    bool in_epoll_ = false;
    unsigned unacked_events_ = 0;
};

}  // namespace nvmfd::plugins::rdma
