#include "plugins/backend_pcie/queue_pair.hpp"

#include <future>
#include <sys/epoll.h>
#include <unistd.h>

#include "core/runtime/log.hpp"

namespace nvmfd::plugins::pcie {

// A reactor's buffer pool mapped for DMA: one mapping, so a command's
// memory is found by arithmetic. Unmapped when the reactor goes (its locals
// go before its pool) or, if a queue pair still holds it, after that.
class PoolMapping {
public:
    PoolMapping(std::shared_ptr<VfioContainer> c, std::span<const std::byte> region, uint64_t iova)
        : container_(std::move(c)), region_(region), iova_(iova) {}
    ~PoolMapping() { container_->unmap(iova_, region_.size()); }

    std::optional<uint64_t> iova(const void* p, uint64_t len) const {
        const auto* b = static_cast<const std::byte*>(p);
        if (b < region_.data() || len > region_.size() || uint64_t(b - region_.data()) > region_.size() - len)
            return std::nullopt;
        return iova_ + uint64_t(b - region_.data());
    }

private:
    std::shared_ptr<VfioContainer> container_;
    std::span<const std::byte> region_;
    uint64_t iova_;
};

namespace {

constexpr const char* kPoolKey = "backend.pcie.pool";

struct PoolLocal final : runtime::ReactorLocal {
    explicit PoolLocal(std::shared_ptr<PoolMapping> m) : mapping(std::move(m)) {}
    std::shared_ptr<PoolMapping> mapping;
};

struct QueuePairLocal final : runtime::ReactorLocal {
    explicit QueuePairLocal(std::shared_ptr<QueuePair> q) : queue(std::move(q)) {}
    ~QueuePairLocal() override { queue->detach(); }
    std::shared_ptr<QueuePair> queue;
};

std::string local_key(const Controller& c) { return "backend.pcie/" + c.bdf(); }

Result<std::shared_ptr<PoolMapping>> pool_of(runtime::Reactor& reactor, const std::shared_ptr<VfioContainer>& c) {
    if (auto* local = static_cast<PoolLocal*>(reactor.local(kPoolKey))) return local->mapping;
    const auto region = reactor.buffers().region();
    auto iova = c->map(region.data(), region.size());
    if (!iova) return nvmfd::unexpected(iova.error());
    auto mapping = std::make_shared<PoolMapping>(c, region, *iova);
    reactor.set_local(kPoolKey, std::make_unique<PoolLocal>(mapping));
    log::debug("reactor {}: buffer pool ({} bytes) mapped for drives at IOVA {:#x}", reactor.id(), region.size(), *iova);
    return mapping;
}

}  // namespace

Result<std::shared_ptr<QueuePair>> QueuePair::of(runtime::Reactor& reactor, std::shared_ptr<Controller> controller,
                                                 uint16_t entries, std::chrono::milliseconds timeout) {
    const std::string key = local_key(*controller);
    if (auto* local = static_cast<QueuePairLocal*>(reactor.local(key))) return local->queue;
    auto pool = pool_of(reactor, controller->container());
    if (!pool) return nvmfd::unexpected(pool.error());
    auto memory = controller->create_io_queue(entries, controller->interrupts() && !reactor.busy_polling());
    if (!memory) return nvmfd::unexpected(memory.error());
    auto q = std::make_shared<QueuePair>(Token{}, reactor, std::move(controller), std::move(*pool),
                                         std::move(*memory), timeout);
    reactor.add_poller(*q);
    if (q->memory_.interrupts) reactor.add_fd(q->memory_.vector_fd, EPOLLIN, *q);
    q->controller_->attach(q);
    q->arm_timeout_check();
    reactor.set_local(key, std::make_unique<QueuePairLocal>(q));
    return q;
}

QueuePair::QueuePair(Token, runtime::Reactor& reactor, std::shared_ptr<Controller> controller,
                     std::shared_ptr<PoolMapping> pool, IoQueueMemory memory, std::chrono::milliseconds timeout)
    : reactor_(&reactor),
      controller_(std::move(controller)),
      pool_(std::move(pool)),
      memory_(std::move(memory)),
      queue_(memory_.rings, memory_.slot_pages, *this, timeout, 4096, "pcie " + controller_->bdf(),
             SglUse{controller_->sgl_policy(), controller_->sgl_support()}) {}

QueuePair::~QueuePair() {
    // The drive must stop using the queue's memory before it is unmapped.
    if (!deleted_on_drive_) delete_on_drive();
}

void QueuePair::delete_on_drive() {
    controller_->delete_io_queue(memory_);
    deleted_on_drive_ = true;
    log::info("pcie {}: I/O queue pair {} deleted; its data commands: {} with PRPs, {} with SGLs", controller_->bdf(),
              memory_.qid, queue_.prp_commands(), queue_.sgl_commands());
}

// Every 100 ms on the reactor: the oldest command past its deadline, if
// any, goes to the controller's monitor.
void QueuePair::arm_timeout_check() {
    timeout_timer_ = reactor_->add_timer(std::chrono::milliseconds(100), [w = weak_from_this()] {
        auto self = w.lock();
        if (!self || !self->reactor_) return;
        if (auto e = self->queue_.expired(std::chrono::steady_clock::now()))
            self->controller_->command_expired(self->memory_.qid, e->cid, e->aborted_before);
        self->arm_timeout_check();
    });
}

bool QueuePair::on_reactor(const std::function<void()>& fn) {
    auto done = std::make_shared<std::promise<void>>();
    auto finished = done->get_future();
    {
        std::lock_guard lock(reactor_mutex_);
        if (!reactor_) return false;
        reactor_->post([self = shared_from_this(), fn, done] {
            if (self->reactor_) fn();
            done->set_value();
        });
    }
    // A reactor that stopped never runs it: the daemon is going down.
    return finished.wait_for(std::chrono::seconds(10)) == std::future_status::ready;
}

void QueuePair::resume_after_reset() {
    queue_.resume_after_reset();
    if (reactor_) reactor_->defer(*this);  // what waited during the reset
}

std::optional<uint64_t> QueuePair::iova(const void* p, uint64_t len) const {
    if (p == runtime::BufferPool::zero_page() && len <= runtime::BufferPool::kPageSize) return memory_.zero_page_iova;
    return pool_->iova(p, len);
}

void QueuePair::submit(plugin::BlockIo& io, const DriveShape& shape) {
    queue_.submit(io, shape);
    reactor_->defer(*this);
}

void QueuePair::on_fd_event(uint32_t) {
    uint64_t count;
    while (::read(memory_.vector_fd, &count, sizeof count) == sizeof count) {
    }
    poll();
}

bool QueuePair::poll() {
    if (queue_.commands_in_flight() == 0) return false;
    const size_t reaped = queue_.poll();
    if (reaped && queue_.commands_in_flight()) reactor_->defer(*this);  // commands sent from the backlog
    return reaped > 0;
}

void QueuePair::remove_channel() {
    if (channels_.fetch_sub(1) != 1) return;
    {
        std::lock_guard lock(reactor_mutex_);
        if (!reactor_) return;  // the reactor is gone; the destructor deletes the queue
        if (!reactor_->on_this_thread()) {
            reactor_->post([self = shared_from_this()] { self->close_if_unused(); });
            return;
        }
    }
    close_if_unused();
}

// Reactor thread: no channel came back meanwhile, nothing is in flight.
void QueuePair::close_if_unused() {
    if (channels_.load() > 0 || queue_.commands_in_flight() > 0 || queue_.waiting() > 0 || !reactor_) return;
    runtime::Reactor* reactor = reactor_;
    delete_on_drive();
    reactor->set_local(local_key(*controller_), nullptr);  // detaches; the last holder frees it
}

void QueuePair::detach() {
    std::lock_guard lock(reactor_mutex_);
    if (!reactor_) return;
    reactor_->remove_poller(*this);
    if (memory_.interrupts) reactor_->remove_fd(memory_.vector_fd);
    reactor_->cancel_timer(timeout_timer_);
    reactor_ = nullptr;
}

}  // namespace nvmfd::plugins::pcie
