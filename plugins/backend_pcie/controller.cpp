#include "plugins/backend_pcie/controller.hpp"

#include <cerrno>
#include <cstring>
#include <sys/eventfd.h>
#include <unistd.h>
#include <thread>

#include "core/proto/identify.hpp"
#include "core/proto/status.hpp"
#include "core/runtime/log.hpp"
#include "plugins/backend_pcie/controller_init.hpp"

namespace nvmfd::plugins::pcie {
namespace {

constexpr uint32_t kPage = 4096;
constexpr uint16_t kAdminEntries = 32;  // Linux's NVME_AQ_DEPTH
constexpr uint16_t kWantedQueuePairs = 64;
constexpr const char* kField = "device";

class RealClock final : public WaitClock {
public:
    std::chrono::steady_clock::time_point now() override { return std::chrono::steady_clock::now(); }
    void sleep(std::chrono::microseconds d) override { std::this_thread::sleep_for(d); }
};

size_t pages(size_t bytes) { return (bytes + kPage - 1) / kPage; }

}  // namespace

Result<std::shared_ptr<Controller>> Controller::open(const std::string& bdf, InterruptMode interrupts, SglMode sgl) {
    std::shared_ptr<Controller> c(new Controller());
    auto container = VfioContainer::shared();
    if (!container) return nvmfd::unexpected(container.error());
    c->container_ = *container;
    auto device = VfioDevice::open(*c->container_, bdf);
    if (!device) return nvmfd::unexpected(device.error());
    c->device_ = std::move(*device);
    if (auto r = c->bring_up(interrupts, sgl); !r) return nvmfd::unexpected(r.error());
    return c;
}

Result<void> Controller::bring_up(InterruptMode interrupt_mode, SglMode sgl) {
    if (auto r = device_->enable_bus_master(); !r) return r;
    auto memory = DmaBlock::allocate(container_, 3 * kPage);
    if (!memory) return nvmfd::unexpected(memory.error());
    admin_memory_ = std::move(*memory);
    if (auto r = enable_and_configure(); !r) return r;

    proto::IdentifyController id;
    auto done = admin(identify_controller(admin_data_iova()), std::chrono::seconds(10), &id);
    if (!done) return nvmfd::unexpected(done.error());
    identity_ = parse_identify_controller(id);
    recovery_ = Recovery(RecoveryLimits{3, 2, identity_.abort_limit});
    if (auto r = choose_sgl_policy(sgl); !r) return r;
    for (uint16_t qid = granted_queues_; qid >= 1; --qid) free_qids_.push_back(qid);
    if (interrupt_mode != InterruptMode::Off) {
        auto vectors = set_up_vectors();
        if (!vectors && interrupt_mode == InterruptMode::On) return nvmfd::unexpected(vectors.error());
        if (!vectors) log::info("pcie {}: queues polled only: {}", bdf(), vectors.error().message);
    }
    log::info("pcie {}: {} (serial {}, firmware {}), {} I/O queue pairs, MDTS {} bytes, ONCS {:#x}, {}volatile "
              "write cache, {}, {}",
              bdf(), identity_.model, identity_.serial, identity_.firmware, granted_queues_, max_transfer_bytes(),
              identity_.oncs, identity_.volatile_write_cache ? "" : "no ",
              interrupts() ? "MSI-X interrupts (busy-polling reactors poll)" : "polled queues",
              sgl_policy_ == SglPolicy::Always  ? "SGLs for all data"
              : sgl_policy_ == SglPolicy::Large ? fmt::format("SGLs for pieces of {} KiB on average or more, else PRPs",
                                                              kSglThreshold / 1024)
                                                : std::string("PRPs"));
    arm_events();
    read_health();
    monitor_ = std::thread(&Controller::monitor, monitor_state_, weak_from_this());
    return {};
}

Result<void> Controller::choose_sgl_policy(SglMode sgl) {
    sgl_support_ = pcie::sgl_support(identity_.sgls);
    if (sgl == SglMode::On && sgl_support_ == SglSupport::None)
        return make_error(ErrorCode::NotSupported,
                          fmt::format("{} does not take SGLs (Identify Controller SGLS {:#x}): use auto or off", bdf(),
                                      identity_.sgls),
                          "sgl");
    sgl_policy_ = sgl_support_ == SglSupport::None || sgl == SglMode::Off ? SglPolicy::Never
                  : sgl == SglMode::On                                   ? SglPolicy::Always
                                                                         : SglPolicy::Large;
    return {};
}

Result<void> Controller::accepts(InterruptMode interrupts_mode, SglMode sgl) const {
    if (interrupts_mode != InterruptMode::Auto && (interrupts_mode == InterruptMode::On) != interrupts())
        return make_error(ErrorCode::InvalidArgument,
                          fmt::format("{}'s queues are {} (its other namespaces' setting): use auto or {}", bdf(),
                                      interrupts() ? "interrupt-driven" : "polled", interrupts() ? "on" : "off"),
                          "interrupts");
    if (sgl == SglMode::On && sgl_policy_ != SglPolicy::Always)
        return make_error(ErrorCode::InvalidArgument,
                          fmt::format("{} {} (its other namespaces' setting or the drive): use auto or off", bdf(),
                                      sgl_support_ == SglSupport::None ? "does not take SGLs"
                                                                       : "uses SGLs for large pieces only"),
                          "sgl");
    if (sgl == SglMode::Off && sgl_policy_ != SglPolicy::Never)
        return make_error(ErrorCode::InvalidArgument,
                          fmt::format("{} uses SGLs (its other namespaces' setting): use auto or {}", bdf(),
                                      sgl_policy_ == SglPolicy::Always ? "on" : "auto"),
                          "sgl");
    return {};
}

// One eventfd per I/O queue, bound to MSI-X vector qid in one call (the
// admin queue, vector 0, stays polled): docs/pcie-design.md 1.4.
Result<void> Controller::set_up_vectors() {
    const uint32_t count = std::min<uint32_t>(device_->msix_vectors(), uint32_t(granted_queues_) + 1);
    if (count < 2)
        return make_error(ErrorCode::NotSupported,
                          fmt::format("{} offers no MSI-X vectors for its I/O queues", bdf()), "interrupts");
    std::vector<int> fds(count, -1);
    for (uint32_t v = 1; v < count; ++v) {
        fds[v] = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (fds[v] < 0) {
            for (int fd : fds)
                if (fd >= 0) ::close(fd);
            return make_error(ErrorCode::Io, fmt::format("eventfd: {}", std::strerror(errno)), "interrupts");
        }
    }
    if (auto r = device_->bind_msix(fds); !r) {
        for (int fd : fds)
            if (fd >= 0) ::close(fd);
        return r;
    }
    vector_fds_ = std::move(fds);
    // Queues beyond the vectors would have none: grant no more than that.
    std::erase_if(free_qids_, [&](uint16_t qid) { return qid >= vector_fds_.size(); });
    return {};
}

// Disable (if enabled), give the controller the admin queue, enable, and
// ask for the I/O queues: at open and after a reset.
Result<void> Controller::enable_and_configure() {
    {
        std::lock_guard lock(admin_mutex_);
        std::memset(admin_memory_->data(), 0, 2 * kPage);  // both admin rings start empty
        RealClock clock;
        const AdminQueueMemory admin_queues{admin_memory_->iova(), admin_memory_->iova() + kPage, kAdminEntries};
        auto cap = enable_controller(*device_, clock, admin_queues);
        if (!cap) {
            auto e = cap.error();
            e.message = fmt::format("{}: {}", bdf(), e.message);
            return nvmfd::unexpected(e);
        }
        cap_ = *cap;
        enabled_ = true;
        const uint32_t stride = cap_.doorbell_stride();
        event_completions_.clear();  // the drive forgot its requests too
        admin_queue_.emplace(QueueMemory{reinterpret_cast<proto::Sqe*>(admin_memory_->data()),
                                         reinterpret_cast<proto::Cqe*>(admin_memory_->data() + kPage), kAdminEntries,
                                         device_->register_address(regs::sq_tail_doorbell(0, stride)),
                                         device_->register_address(regs::cq_head_doorbell(0, stride))});
    }
    auto queues = admin(set_number_of_queues(kWantedQueuePairs));
    if (!queues) return nvmfd::unexpected(queues.error());
    // Only queues whose doorbells lie in the part of BAR0 that is mapped.
    const uint32_t stride = cap_.doorbell_stride();
    const uint32_t by_doorbells = (uint32_t(device_->bar0_size()) - regs::kDoorbells) / (2 * stride) - 1;
    const uint16_t granted = uint16_t(std::min<uint32_t>(granted_queue_pairs(queues->dw0), by_doorbells));
    if (granted_queues_ && granted < granted_queues_)
        return make_error(ErrorCode::Io,
                          fmt::format("{}: after a reset the drive grants {} I/O queues, not {}", bdf(), granted,
                                      granted_queues_),
                          kField);
    granted_queues_ = granted;
    return {};
}

Controller::~Controller() {
    {
        std::lock_guard lock(monitor_state_->mutex);
        monitor_state_->stopping = true;
    }
    monitor_state_->wake.notify_all();
    if (monitor_.joinable()) {
        if (monitor_.get_id() == std::this_thread::get_id())
            monitor_.detach();  // dropped its last reference itself; its loop ends on `stopping`
        else
            monitor_.join();
    }
    if (enabled_ && !dead_) {
        RealClock clock;
        if (auto r = shut_down_controller(*device_, clock, std::chrono::seconds(5)); !r)
            log::warn("pcie {}: shutting the controller down: {}", bdf(), r.error().describe());
        else
            log::info("pcie {}: controller shut down, device released", bdf());
    }
    device_.reset();  // unbinds the vectors before their eventfds close
    for (int fd : vector_fds_)
        if (fd >= 0) ::close(fd);
}

// --- recovery (docs/pcie-design.md 7.3-7.4) ---

void Controller::attach(std::weak_ptr<QueueUser> user) {
    std::lock_guard lock(users_mutex_);
    std::erase_if(users_, [](const auto& u) { return u.expired(); });
    users_.push_back(std::move(user));
}

std::vector<std::shared_ptr<QueueUser>> Controller::users() {
    std::lock_guard lock(users_mutex_);
    std::vector<std::shared_ptr<QueueUser>> out;
    for (const auto& u : users_)
        if (auto s = u.lock()) out.push_back(std::move(s));
    return out;
}

void Controller::command_expired(uint16_t qid, uint16_t cid, bool aborted_before) {
    {
        std::lock_guard lock(monitor_state_->mutex);
        monitor_state_->expired.push_back({qid, cid, aborted_before});
    }
    monitor_state_->wake.notify_all();
}

void Controller::monitor(std::shared_ptr<MonitorState> state, std::weak_ptr<Controller> controller) {
    std::unique_lock lock(state->mutex);
    auto next_health = std::chrono::steady_clock::now();
    while (!state->stopping) {
        state->wake.wait_until(lock, next_health, [&] { return state->stopping || !state->expired.empty(); });
        if (state->stopping) break;
        std::deque<Expiry> work;
        work.swap(state->expired);
        const bool health_due = std::chrono::steady_clock::now() >= next_health;
        lock.unlock();
        if (auto c = controller.lock()) {
            for (const Expiry& e : work) c->handle(e);
            if (health_due) c->check_health();
        }  // the last reference may go here: the destructor detaches this thread
        lock.lock();
        if (health_due) next_health = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    }
}

// A command past its deadline: one Abort, then a reset (Recovery decides).
void Controller::handle(const Expiry& e) {
    if (dead_) return;
    const auto now = std::chrono::steady_clock::now();
    switch (recovery_.on_expired(e.aborted_before, 0, now)) {
    case Recovery::Action::None: return;
    case Recovery::Action::Dead: return go_dead("it needed more resets than allowed");
    case Recovery::Action::Reset:
        return reset(fmt::format("command {:#x} on queue {} got no completion after an Abort", e.cid, e.qid));
    case Recovery::Action::Abort: break;
    }
    log::warn("pcie {}: command {:#x} on queue {} is past its deadline: aborting it", bdf(), e.cid, e.qid);
    auto answer = admin(abort_command(e.qid, e.cid), std::chrono::seconds(5));
    if (!answer) return reset(fmt::format("the Abort of command {:#x} failed: {}", e.cid, answer.error().message));
    switch (recovery_.on_abort_answer(answer->dw0, std::chrono::steady_clock::now())) {
    case Recovery::Action::Reset:
        return reset(fmt::format("the drive did not abort command {:#x} on queue {}", e.cid, e.qid));
    case Recovery::Action::Dead: return go_dead("it needed more resets than allowed");
    default: return;
    }
}

void Controller::check_health() {
    if (device_->released()) return;
    if (device_->release_requested()) {
        go_dead("the kernel asks for it back: it is being unbound or removed");
        // Every queue pair has stopped touching the doorbells (fail_all ran
        // on each reactor); only then may BAR0 go.
        if (!queues_stopped_) return;  // a reactor did not answer: try again at the next check
        std::lock_guard lock(admin_mutex_);
        device_->release();
        log::notice("pcie {}: device released to the kernel", bdf());
        return;
    }
    if (dead_ || !enabled_) return;
    const uint32_t csts = device_->read32(regs::kCsts);
    if (csts == regs::kAllOnes) return go_dead("its registers read all ones: the device is gone");
    if (csts & regs::csts::kFatal) return reset("the controller reports a fatal status (CSTS.CFS)");
    check_events();
    if (std::chrono::steady_clock::now() >= next_health_read_) read_health();
}

// Hold every queue pair, disable and enable the controller (the drive
// forgets every command and queue; after CSTS.RDY = 0 it no longer touches
// their memory), create the queue pairs again in the same memory and let
// each send again what the drive never completed, in order: a host sees a
// delay, not an error, and no acknowledged write is lost.
void Controller::reset(const std::string& why) {
    if (dead_) return;
    log::warn("pcie {}: resetting the controller: {}", bdf(), why);
    const auto held = users();
    for (const auto& u : held) u->on_reactor([u] { u->hold(); });
    auto ok = enable_and_configure();
    if (!ok) {
        log::warn("pcie {}: {}; trying a function-level reset", bdf(), ok.error().message);
        if (auto flr = device_->reset(); flr) ok = enable_and_configure();
        else ok = nvmfd::unexpected(flr.error());
    }
    for (const auto& u : held) {
        if (!ok) break;
        ok = create_on_drive(u->queue_memory());
    }
    const auto next = recovery_.on_reset_done(bool(ok), std::chrono::steady_clock::now());
    if (!ok || next == Recovery::Action::Dead) {
        return go_dead(ok ? std::string("it needed more resets than allowed")
                          : fmt::format("the reset failed: {}", ok.error().message));
    }
    for (const auto& u : held) u->on_reactor([u] { u->resume_after_reset(); });
    arm_events();
    log::warn("pcie {}: controller reset; {} queue pairs resumed", bdf(), held.size());
}

void Controller::go_dead(const std::string& why) {
    if (!dead_.exchange(true))
        log::error("pcie {}: the drive is given up ({}): its namespaces fail every command with Namespace Not Ready",
                   bdf(), why);
    if (queues_stopped_) return;
    bool all = true;
    for (const auto& u : users()) all = (u->on_reactor([u] { u->fail_all(); }) || u->detached()) && all;
    queues_stopped_ = all;
}

uint64_t Controller::max_transfer_bytes() const {
    if (identity_.mdts == 0) return 0;
    return uint64_t(cap_.min_page_size()) << identity_.mdts;
}

uint64_t Controller::admin_data_iova() const { return admin_memory_->iova() + 2 * kPage; }

Result<proto::Cqe> Controller::admin(proto::Sqe sqe, std::chrono::milliseconds timeout, void* data_out) {
    if (dead_) return make_error(ErrorCode::Io, fmt::format("{}: the drive was given up", bdf()), kField);
    std::lock_guard lock(admin_mutex_);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    if (!admin_queue_->submit(sqe, 0, deadline))
        return make_error(ErrorCode::Busy, fmt::format("{}: the admin queue is full", bdf()), kField);
    admin_queue_->ring();
    std::optional<proto::Cqe> done;
    for (auto wait = std::chrono::microseconds(10);; wait = std::min(wait * 2, std::chrono::microseconds(1000))) {
        admin_queue_->reap([&](uint64_t cookie, const proto::Cqe& cqe) {
            if (cookie == kEventCookie) event_completions_.push_back(cqe);
            else done = cqe;
        });
        if (done) break;
        if (device_->read32(regs::kCsts) == regs::kAllOnes)
            return make_error(ErrorCode::Io, fmt::format("{}: the device is gone (its registers read all ones)", bdf()),
                              kField);
        if (std::chrono::steady_clock::now() >= deadline)
            return make_error(ErrorCode::Io,
                              fmt::format("{}: admin command {:#04x} got no completion within {} ms", bdf(),
                                          sqe.opcode, timeout.count()),
                              kField);
        std::this_thread::sleep_for(wait);
    }
    const proto::Status status = proto::Status::from_cqe(done->status);
    if (!status.ok())
        return make_error(ErrorCode::Io,
                          fmt::format("{}: the drive refused admin command {:#04x} with status {:#x}", bdf(),
                                      sqe.opcode, status.value),
                          kField);
    if (data_out) std::memcpy(data_out, admin_memory_->data() + 2 * kPage, kPage);
    return *done;
}

Result<DriveNamespace> Controller::identify_namespace(uint32_t nsid) {
    if (nsid == 0 || nsid > identity_.namespaces)
        return make_error(ErrorCode::InvalidArgument,
                          fmt::format("{} has namespaces 1 to {}", bdf(), identity_.namespaces), "nsid");
    proto::IdentifyNamespace id;
    auto r = admin(pcie::identify_namespace(nsid, admin_data_iova()), std::chrono::seconds(10), &id);
    if (!r) return nvmfd::unexpected(r.error());
    return parse_identify_namespace(id, nsid);
}

Result<IoQueueMemory> Controller::create_io_queue(uint16_t wanted, bool interrupts) {
    IoQueueMemory q;
    q.entries = uint16_t(std::clamp<uint32_t>(wanted, 2, std::min<uint32_t>(cap_.max_queue_entries(), 4096)));
    {
        std::lock_guard lock(admin_mutex_);
        if (free_qids_.empty())
            return make_error(ErrorCode::Busy,
                              fmt::format("{}: every I/O queue the drive granted is in use (one per reactor)", bdf()),
                              kField);
        q.qid = free_qids_.back();
        free_qids_.pop_back();
    }
    const size_t sq_pages = pages(size_t(q.entries) * sizeof(proto::Sqe));
    const size_t cq_pages = pages(size_t(q.entries) * sizeof(proto::Cqe));
    const size_t list_pages = q.entries - 1;
    auto block = DmaBlock::allocate(container_, (sq_pages + cq_pages + 1 + list_pages) * kPage);
    if (!block) {
        std::lock_guard lock(admin_mutex_);
        free_qids_.push_back(q.qid);
        return nvmfd::unexpected(block.error());
    }
    q.block = std::move(*block);
    uint8_t* base = q.block->data();
    const uint32_t stride = cap_.doorbell_stride();
    q.rings = QueueMemory{reinterpret_cast<proto::Sqe*>(base), reinterpret_cast<proto::Cqe*>(base + sq_pages * kPage),
                          q.entries, device_->register_address(regs::sq_tail_doorbell(q.qid, stride)),
                          device_->register_address(regs::cq_head_doorbell(q.qid, stride))};
    q.zero_page_iova = q.block->iova() + (sq_pages + cq_pages) * kPage;
    for (size_t i = 0; i < list_pages; ++i) {
        const size_t off = (sq_pages + cq_pages + 1 + i) * kPage;
        q.slot_pages.push_back({reinterpret_cast<uint64_t*>(base + off), q.block->iova() + off});
    }
    q.sq_iova = q.block->iova();
    q.cq_iova = q.block->iova() + sq_pages * kPage;
    q.interrupts = interrupts && q.qid < vector_fds_.size();
    q.vector_fd = q.interrupts ? vector_fds_[q.qid] : -1;
    if (auto created = create_on_drive(q); !created) {
        std::lock_guard lock(admin_mutex_);
        free_qids_.push_back(q.qid);
        return nvmfd::unexpected(created.error());
    }
    log::debug("pcie {}: I/O queue pair {} with {} entries, {}", bdf(), q.qid, q.entries,
               q.interrupts ? "interrupts" : "polled");
    return q;
}

// The CQ, then the SQ that completes into it; the CQ is deleted again
// when the SQ is refused. For a new queue pair, and after a reset.
Result<void> Controller::create_on_drive(const IoQueueMemory& q) {
    auto cq = admin(create_io_cq(q.qid, q.entries, q.cq_iova, q.interrupts, q.qid));
    if (!cq) return nvmfd::unexpected(cq.error());
    if (auto sq = admin(create_io_sq(q.qid, q.entries, q.sq_iova, q.qid)); !sq) {
        (void)admin(delete_io_cq(q.qid));
        return nvmfd::unexpected(sq.error());
    }
    return {};
}

void Controller::delete_io_queue(const IoQueueMemory& q) {
    // The SQ before its CQ (spec). A drive that is gone cannot refuse:
    // the queue ID is free either way.
    if (!dead_) {
        if (auto r = admin(delete_io_sq(q.qid)); !r)
            log::warn("pcie {}: {}", bdf(), r.error().message);
        else if (auto r2 = admin(delete_io_cq(q.qid)); !r2)
            log::warn("pcie {}: {}", bdf(), r2.error().message);
    }
    std::lock_guard lock(admin_mutex_);
    free_qids_.push_back(q.qid);
}

}  // namespace nvmfd::plugins::pcie
