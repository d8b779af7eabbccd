#include "plugins/backend_uring/ring.hpp"

#include <cerrno>
#include <cstring>
#include <sys/epoll.h>

#include "core/runtime/log.hpp"
#include "plugins/backend_uring/ring_setup.hpp"
#include "plugins/backend_uring/uring_channel.hpp"

namespace nvmfd::plugins::uring {
namespace {

constexpr const char* kLocalKey = "backend.uring";
constexpr size_t kOpChunk = 128;
constexpr unsigned kReapBatch = 64;
constexpr unsigned kReapPerTurn = 1024;  // then let the reactor's other work run

// What the reactor keeps: the ring lives as long as this or any channel.
class RingLocal final : public runtime::ReactorLocal {
public:
    explicit RingLocal(std::shared_ptr<Ring> ring) : ring(std::move(ring)) {}
    ~RingLocal() override { ring->detach(); }
    std::shared_ptr<Ring> ring;
};

}  // namespace

std::shared_ptr<Ring> Ring::of(runtime::Reactor& reactor) {
    if (auto* local = static_cast<RingLocal*>(reactor.local(kLocalKey))) return local->ring;
    auto ring = std::make_shared<Ring>(Token{}, reactor);
    if (int err = ring->init()) {
        log::error("reactor {}: cannot set up an io_uring: {}", reactor.id(), std::strerror(err));
        return nullptr;
    }
    reactor.add_poller(*ring);
    reactor.add_fd(ring->ring_.ring_fd, EPOLLIN, *ring);
    reactor.set_local(kLocalKey, std::make_unique<RingLocal>(ring));
    return ring;
}

Ring::Ring(Token, runtime::Reactor& reactor) : reactor_(&reactor) {}

int Ring::init() {
    io_uring_params p{};
    const RingFlagSet* flags = nullptr;
    int r = init_with_fallback(
        [&](unsigned f) {
            p = io_uring_params{};
            p.flags = f;
            p.cq_entries = kCqEntries;
            return io_uring_queue_init_params(kSqEntries, &ring_, &p);
        },
        &flags);
    if (r < 0) return -r;
    ring_ready_ = true;
    max_inflight_ = p.cq_entries;
    file_slots_.assign(kFileSlots, -1);
    if (io_uring_register_files_sparse(&ring_, kFileSlots) == 0) {
        files_registered_ = true;
    } else {
        std::vector<int> empty(kFileSlots, -1);
        files_registered_ = io_uring_register_files(&ring_, empty.data(), kFileSlots) == 0;
    }
    log::debug("reactor {}: io_uring with {} SQ / {} CQ entries ({}){}", reactor_->id(), p.sq_entries, p.cq_entries,
               flags->name, files_registered_ ? ", fixed files" : "");
    return 0;
}

Ring::~Ring() {
    // Channels still here had I/O in flight when their reactor went away.
    channels_.clear();
    if (ring_ready_) io_uring_queue_exit(&ring_);
}

Op& Ring::alloc_op() {
    if (!free_ops_) {
        auto chunk = std::make_unique<Op[]>(kOpChunk);
        for (size_t i = 0; i < kOpChunk; ++i) {
            chunk[i].next = free_ops_;
            free_ops_ = &chunk[i];
        }
        op_chunks_.push_back(std::move(chunk));
    }
    Op& op = *free_ops_;
    free_ops_ = op.next;
    op = Op{};
    return op;
}

void Ring::free_op(Op& op) {
    op.io = nullptr;
    op.channel = nullptr;
    op.next = free_ops_;
    free_ops_ = &op;
}

void Ring::push_backlog(Op& op) {
    op.next = nullptr;
    if (backlog_tail_) backlog_tail_->next = &op; else backlog_head_ = &op;
    backlog_tail_ = &op;
}

void Ring::start(Op& op) {
    // FIFO: nothing overtakes what already waits.
    if (backlog_head_ || inflight_ >= max_inflight_ || !try_submit(op)) push_backlog(op);
}

bool Ring::try_submit(Op& op) {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (!sqe) {
        // SQ full: hand the kernel what we have and try once more.
        flush();
        sqe = io_uring_get_sqe(&ring_);
        if (!sqe) return false;
    }
    op.channel->prepare(op, *sqe);
    io_uring_sqe_set_data(sqe, &op);
    ++inflight_;
    // One io_uring_submit at the end of the turn covers every SQE queued in it.
    if (reactor_ && !deferred_queued()) reactor_->defer(*this);
    return true;
}

void Ring::flush() {
    if (!io_uring_sq_ready(&ring_)) {
        submit_retry_ = false;
        return;
    }
    int r = io_uring_submit(&ring_);
    if (r < 0 && r != -EAGAIN && r != -EBUSY && r != -EINTR) {
        if (submit_errors_++ % 1000 == 0)
            log::error("reactor {}: io_uring_submit: {}", reactor_ ? reactor_->id() : 0u, std::strerror(-r));
    }
    // What the kernel did not take (-EAGAIN, -EBUSY) stays in the SQ.
    submit_retry_ = io_uring_sq_ready(&ring_) > 0;
}

unsigned Ring::reap() {
    unsigned total = 0;
    while (total < kReapPerTurn) {
        io_uring_cqe* cqes[kReapBatch];
        unsigned n = io_uring_peek_batch_cqe(&ring_, cqes, kReapBatch);
        if (n == 0) break;
        // Copy out and release the CQ slots first: handling a completion may
        // submit more I/O.
        struct Done {
            Op* op;
            int res;
        } done[kReapBatch];
        for (unsigned i = 0; i < n; ++i) done[i] = {static_cast<Op*>(io_uring_cqe_get_data(cqes[i])), cqes[i]->res};
        io_uring_cq_advance(&ring_, n);
        inflight_ -= n;
        for (unsigned i = 0; i < n; ++i) done[i].op->channel->on_cqe(*done[i].op, done[i].res);
        total += n;
    }
    if (backlog_head_) drain_backlog();
    return total;
}

void Ring::drain_backlog() {
    while (backlog_head_ && inflight_ < max_inflight_) {
        Op& op = *backlog_head_;
        backlog_head_ = op.next;
        if (!backlog_head_) backlog_tail_ = nullptr;
        if (op.channel->retired()) {
            op.channel->abort_queued(op);
            continue;
        }
        if (!try_submit(op)) {
            // Back to the front; the next turn tries again.
            op.next = backlog_head_;
            backlog_head_ = &op;
            if (!backlog_tail_) backlog_tail_ = &op;
            submit_retry_ = true;
            break;
        }
    }
}

bool Ring::poll() {
    bool busy = false;
    if (submit_retry_) {
        drain_backlog();
        flush();
        busy = true;
    }
    if (reap()) busy = true;
    return busy;
}

void Ring::on_fd_event(uint32_t) { reap(); }

void Ring::run_deferred() {
    if (backlog_head_) drain_backlog();
    flush();
}

int Ring::register_file(int fd) {
    if (!files_registered_) return -1;
    for (size_t slot = 0; slot < file_slots_.size(); ++slot) {
        if (file_slots_[slot] != -1) continue;
        if (io_uring_register_files_update(&ring_, static_cast<unsigned>(slot), &fd, 1) != 1) return -1;
        file_slots_[slot] = fd;
        return static_cast<int>(slot);
    }
    return -1;  // table full: plain descriptors work too
}

void Ring::unregister_file(int slot) {
    // With SINGLE_ISSUER only the reactor's thread may change the table; once
    // the reactor is gone this fails, and the slot's file reference is
    // dropped with the ring.
    int none = -1;
    io_uring_register_files_update(&ring_, static_cast<unsigned>(slot), &none, 1);
    file_slots_[static_cast<size_t>(slot)] = -1;
}

ChannelState& Ring::add_channel(std::unique_ptr<ChannelState> channel) {
    channels_.push_back(std::move(channel));
    return *channels_.back();
}

void Ring::remove_channel(ChannelState& channel) {
    std::erase_if(channels_, [&](const auto& c) { return c.get() == &channel; });
}

void Ring::retire(ChannelState& channel) {
    std::lock_guard lock(attach_mutex_);
    if (reactor_ && !reactor_->on_this_thread()) {
        // If the reactor has stopped, the message is dropped with the reactor,
        // which also releases the ring and, with it, the channel state.
        reactor_->post([self = shared_from_this(), &channel] { channel.retire(); });
        return;
    }
    // On the reactor, or the reactor is gone and nobody else uses the ring.
    channel.retire();
}

void Ring::detach() {
    std::lock_guard lock(attach_mutex_);
    if (!reactor_) return;
    reactor_->remove_poller(*this);
    reactor_->remove_fd(ring_.ring_fd);
    reactor_ = nullptr;
}

}  // namespace nvmfd::plugins::uring
