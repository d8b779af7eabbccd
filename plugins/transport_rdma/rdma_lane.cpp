#include "plugins/transport_rdma/rdma_lane.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/epoll.h>

#include "core/runtime/buffer_pool.hpp"
#include "core/runtime/log.hpp"
#include "core/proto/nvme.hpp"
#include "plugins/transport_rdma/rdma_reactor.hpp"
#include "plugins/transport_rdma/rdma_request.hpp"

namespace nvmfd::plugins::rdma {
namespace {

// A completion queue big enough for many queue pairs but not for all the
// device could give (rxe: 32767; mlx5: millions): each entry is memory.
constexpr uint32_t kMaxCqSize = 65536;
constexpr int kPollBatch = 32;

Error verbs_error(std::string_view what, int err) {
    return Error{err == ENOMEM ? ErrorCode::Io : ErrorCode::Io,
                 fmt::format("{}: {}{}", what, std::strerror(err),
                             err == ENOMEM || err == EPERM
                                 ? " (locked memory: raise `ulimit -l` / LimitMEMLOCK, or give CAP_IPC_LOCK)"
                                 : ""),
                 "transport"};
}

}  // namespace

RdmaLane::RdmaLane(RdmaReactor& owner, runtime::Reactor& reactor, ibv_context* ctx)
    : owner_(owner), reactor_(reactor), ctx_(ctx) {}

Result<std::unique_ptr<RdmaLane>> RdmaLane::create(RdmaReactor& owner, runtime::Reactor& reactor, ibv_context* ctx,
                                                   const RdmaOptions& options) {
    std::unique_ptr<RdmaLane> lane(new RdmaLane(owner, reactor, ctx));
    RdmaLane& l = *lane;
    const char* dev = ::ibv_get_device_name(ctx->device);
    if (int rc = ::ibv_query_device(ctx, &l.attr_); rc != 0)
        return nvmfd::unexpected(verbs_error(fmt::format("{}: ibv_query_device", dev), rc));
    l.sends_with_invalidate_ =
        options.send_with_invalidate && (l.attr_.device_cap_flags & IBV_DEVICE_MEM_MGT_EXTENSIONS) != 0;
    if (!(l.pd_ = ::ibv_alloc_pd(ctx))) return nvmfd::unexpected(verbs_error(fmt::format("{}: ibv_alloc_pd", dev), errno));
    if (!(l.channel_ = ::ibv_create_comp_channel(ctx)))
        return nvmfd::unexpected(verbs_error(fmt::format("{}: ibv_create_comp_channel", dev), errno));
    int flags = ::fcntl(l.channel_->fd, F_GETFL);
    if (flags < 0 || ::fcntl(l.channel_->fd, F_SETFL, flags | O_NONBLOCK) != 0)
        return nvmfd::unexpected(verbs_error(fmt::format("{}: completion channel", dev), errno));
    l.cq_size_ = std::min<uint32_t>(static_cast<uint32_t>(std::max(l.attr_.max_cqe, 1)), kMaxCqSize);
    if (!(l.cq_ = ::ibv_create_cq(ctx, static_cast<int>(l.cq_size_), &l, l.channel_, 0)))
        return nvmfd::unexpected(verbs_error(fmt::format("{}: ibv_create_cq of {} entries", dev, l.cq_size_), errno));
    l.cq_size_ = static_cast<uint32_t>(l.cq_->cqe);

    l.buffer_count_ = std::min<uint32_t>(options.srq_depth, static_cast<uint32_t>(std::max(l.attr_.max_srq_wr, 1)));
    if (l.attr_.max_srq == 0)
        return make_error(ErrorCode::NotSupported, fmt::format("{} has no shared receive queues", dev), "transport");
    ibv_srq_init_attr sa{};
    sa.attr.max_wr = l.buffer_count_;
    sa.attr.max_sge = 1;
    if (!(l.srq_ = ::ibv_create_srq(l.pd_, &sa)))
        return nvmfd::unexpected(verbs_error(fmt::format("{}: ibv_create_srq of {}", dev, l.buffer_count_), errno));
    // The receives occupy completion queue entries of their own.
    l.cq_reserved_ = l.buffer_count_;

    l.buffer_size_ = static_cast<uint32_t>(sizeof(proto::Sqe)) + options.in_capsule_data_size;
    l.buffers_.reset(new uint8_t[size_t(l.buffer_size_) * l.buffer_count_]);
    if (!(l.buffers_mr_ = ::ibv_reg_mr(l.pd_, l.buffers_.get(), size_t(l.buffer_size_) * l.buffer_count_,
                                       IBV_ACCESS_LOCAL_WRITE)))
        return nvmfd::unexpected(verbs_error(fmt::format("{}: registering the receive buffers", dev), errno));
    auto pool = reactor.buffers().region();
    if (!(l.pool_mr_ = ::ibv_reg_mr(l.pd_, pool.data(), pool.size(), IBV_ACCESS_LOCAL_WRITE)))
        return nvmfd::unexpected(
            verbs_error(fmt::format("{}: registering the reactor's {} MiB buffer pool", dev, pool.size() >> 20), errno));
    if (::posix_memalign(&l.zero_page_, runtime::BufferPool::kPageSize, runtime::BufferPool::kPageSize) != 0)
        return make_error(ErrorCode::Io, "out of memory", "transport");
    std::memset(l.zero_page_, 0, runtime::BufferPool::kPageSize);
    if (!(l.zero_mr_ = ::ibv_reg_mr(l.pd_, l.zero_page_, runtime::BufferPool::kPageSize, 0)))
        return nvmfd::unexpected(verbs_error(fmt::format("{}: registering a zero page", dev), errno));
    l.regions_.push_back(
        MemoryRegion{pool.data(), pool.size(), l.pool_mr_->lkey, reinterpret_cast<uint64_t>(pool.data())});
    l.regions_.push_back(MemoryRegion{runtime::BufferPool::zero_page(), runtime::BufferPool::kPageSize,
                                      l.zero_mr_->lkey, reinterpret_cast<uint64_t>(l.zero_page_)});

    l.recv_sges_.resize(l.buffer_count_);
    l.recv_wrs_.resize(l.buffer_count_);
    for (uint32_t i = 0; i < l.buffer_count_; ++i) {
        l.recv_sges_[i] = ibv_sge{reinterpret_cast<uint64_t>(l.receive_buffer(i)), l.buffer_size_, l.buffers_mr_->lkey};
        l.recv_wrs_[i] = ibv_recv_wr{};
        l.recv_wrs_[i].wr_id = wr_id(WrKind::Receive, i);
        l.recv_wrs_[i].sg_list = &l.recv_sges_[i];
        l.recv_wrs_[i].num_sge = 1;
        l.repost(i);
    }
    l.post_receives();
    if (l.repost_head_)  // post_receives keeps what the device refused
        return make_error(ErrorCode::Io, fmt::format("{}: posting the receive buffers failed", dev), "transport");
    reactor.add_fd(l.channel_->fd, EPOLLIN, l);
    l.in_epoll_ = true;
    log::info("rdma: reactor {} uses {} ({} receive buffers of {} bytes, completion queue of {}, {})", reactor.id(),
              dev, l.buffer_count_, l.buffer_size_, l.cq_size_,
              l.sends_with_invalidate_ ? "SEND with Invalidate"
              : options.send_with_invalidate ? "plain SENDs: the device cannot invalidate remotely"
                                             : "plain SENDs: send_with_invalidate is off");
    return lane;
}

RdmaLane::~RdmaLane() {
    if (in_epoll_) reactor_.remove_fd(channel_->fd);
    for (auto& reg : lent_)
        for (ibv_mr* mr : reg.mrs) ::ibv_dereg_mr(mr);
    if (cq_ && unacked_events_) ::ibv_ack_cq_events(cq_, unacked_events_);
    if (srq_) ::ibv_destroy_srq(srq_);
    if (cq_) ::ibv_destroy_cq(cq_);
    if (channel_) ::ibv_destroy_comp_channel(channel_);
    if (zero_mr_) ::ibv_dereg_mr(zero_mr_);
    if (pool_mr_) ::ibv_dereg_mr(pool_mr_);
    if (buffers_mr_) ::ibv_dereg_mr(buffers_mr_);
    if (pd_) ::ibv_dealloc_pd(pd_);
    std::free(zero_page_);
}

void RdmaLane::register_lent(std::span<const std::byte> range) {
    if (range.empty() ||
        std::any_of(lent_.begin(), lent_.end(), [&](const LentRegistration& r) { return r.base == range.data(); }))
        return;  // told twice (a lane made while the range was on its way)
    const char* dev = ::ibv_get_device_name(ctx_->device);
    // Page-aligned pieces the device takes (rxe: any size; some HCAs less).
    uint64_t piece_max = attr_.max_mr_size ? std::min<uint64_t>(attr_.max_mr_size, uint64_t(1) << 40) : uint64_t(1) << 40;
    piece_max = std::max<uint64_t>(piece_max & ~uint64_t(runtime::BufferPool::kPageSize - 1), runtime::BufferPool::kPageSize);
    LentRegistration reg{range.data(), {}};
    for (size_t off = 0; off < range.size(); off += piece_max) {
        size_t len = static_cast<size_t>(std::min<uint64_t>(piece_max, range.size() - off));
        // Local write access although the device only reads here: it makes
        // the kernel pin the namespace's own pages (breaking copy-on-write
        // of never-written ones) rather than the shared zero page, which a
        // later write would leave behind.
        ibv_mr* mr = ::ibv_reg_mr(pd_, const_cast<std::byte*>(range.data() + off), len, IBV_ACCESS_LOCAL_WRITE);
        if (!mr) {
            const int err = errno;
            log::warn("rdma: {}: cannot register {} MiB of backend memory: {}; reads from it are copied",
                      dev, range.size() >> 20, verbs_error("ibv_reg_mr", err).message);
            for (ibv_mr* m : reg.mrs) ::ibv_dereg_mr(m);
            return;
        }
        reg.mrs.push_back(mr);
    }
    for (ibv_mr* mr : reg.mrs)
        regions_.push_back(MemoryRegion{mr->addr, mr->length, mr->lkey, reinterpret_cast<uint64_t>(mr->addr)});
    lent_.push_back(std::move(reg));
    log::info("rdma: reactor {} registered {} MiB of backend memory on {} (read data sent from it)", reactor_.id(),
              range.size() >> 20, dev);
}

void RdmaLane::deregister_lent(std::span<const std::byte> range) {
    auto it = std::find_if(lent_.begin(), lent_.end(), [&](const LentRegistration& r) { return r.base == range.data(); });
    if (it == lent_.end()) return;
    for (ibv_mr* mr : it->mrs) {
        std::erase_if(regions_, [&](const MemoryRegion& r) { return r.lkey == mr->lkey && r.base == mr->addr; });
        ::ibv_dereg_mr(mr);
    }
    lent_.erase(it);
}

bool RdmaLane::reserve_completions(uint32_t n) {
    if (n > cq_size_ - cq_reserved_) return false;
    cq_reserved_ += n;
    return true;
}

void RdmaLane::release_completions(uint32_t n) { cq_reserved_ -= std::min(n, cq_reserved_); }

void RdmaLane::repost(uint32_t index) {
    ibv_recv_wr* wr = &recv_wrs_[index];
    wr->next = nullptr;
    if (repost_tail_) repost_tail_->next = wr;
    else repost_head_ = wr;
    repost_tail_ = wr;
    reactor_.defer(*this);
}

void RdmaLane::post_receives() {
    if (!repost_head_) return;
    ibv_recv_wr* bad = nullptr;
    int rc = ::ibv_post_srq_recv(srq_, repost_head_, &bad);
    if (rc != 0) {
        // Keep what was not posted for the next turn; the device refuses only
        // when the queue is full, which the buffer count rules out.
        log::warn("rdma: posting receive buffers: {}", std::strerror(rc));
        repost_head_ = bad;
        return;
    }
    repost_head_ = repost_tail_ = nullptr;
}

bool RdmaLane::reap(int max_batches) {
    ibv_wc wc[kPollBatch];
    bool any = false;
    for (int b = 0; b < max_batches; ++b) {
        int n = ::ibv_poll_cq(cq_, kPollBatch, wc);
        if (n < 0) {
            log::error("rdma: polling the completion queue of {} failed", ::ibv_get_device_name(ctx_->device));
            return any;
        }
        for (int i = 0; i < n; ++i) owner_.on_completion(*this, wc[i]);
        any |= n > 0;
        if (n < kPollBatch) break;
    }
    return any;
}

bool RdmaLane::poll() { return reap(4); }

bool RdmaLane::arm() {
    if (!armed_) {
        if (int rc = ::ibv_req_notify_cq(cq_, 0); rc != 0) {
            log::warn("rdma: arming the completion queue: {}", std::strerror(rc));
            return true;  // keep polling rather than sleep through completions
        }
        armed_ = true;
    }
    return reap(1);
}

void RdmaLane::on_fd_event(uint32_t) {
    // Only drain the wakeups: the reactor's poller reaps in this same turn.
    for (;;) {
        ibv_cq* cq = nullptr;
        void* ctx = nullptr;
        if (::ibv_get_cq_event(channel_, &cq, &ctx) != 0) break;
        ++unacked_events_;
        armed_ = false;
    }
    // Acknowledging takes a lock: do it in batches.
    if (unacked_events_ >= 64) {
        ::ibv_ack_cq_events(cq_, unacked_events_);
        unacked_events_ = 0;
    }
}

}  // namespace nvmfd::plugins::rdma
