#include "plugins/backend_pcie/controller.hpp"

#include <cstring>
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

Result<std::shared_ptr<Controller>> Controller::open(const std::string& bdf) {
    std::shared_ptr<Controller> c(new Controller());
    auto container = VfioContainer::shared();
    if (!container) return nvmfd::unexpected(container.error());
    c->container_ = *container;
    auto device = VfioDevice::open(*c->container_, bdf);
    if (!device) return nvmfd::unexpected(device.error());
    c->device_ = std::move(*device);
    if (auto r = c->bring_up(); !r) return nvmfd::unexpected(r.error());
    return c;
}

Result<void> Controller::bring_up() {
    if (auto r = device_->enable_bus_master(); !r) return r;
    auto memory = DmaBlock::allocate(container_, 3 * kPage);
    if (!memory) return nvmfd::unexpected(memory.error());
    admin_memory_ = std::move(*memory);
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
    admin_queue_.emplace(QueueMemory{reinterpret_cast<proto::Sqe*>(admin_memory_->data()),
                                     reinterpret_cast<proto::Cqe*>(admin_memory_->data() + kPage), kAdminEntries,
                                     device_->register_address(regs::sq_tail_doorbell(0, stride)),
                                     device_->register_address(regs::cq_head_doorbell(0, stride))});

    proto::IdentifyController id;
    auto done = admin(identify_controller(admin_data_iova()), std::chrono::seconds(10), &id);
    if (!done) return nvmfd::unexpected(done.error());
    identity_ = parse_identify_controller(id);

    auto queues = admin(set_number_of_queues(kWantedQueuePairs));
    if (!queues) return nvmfd::unexpected(queues.error());
    // Only queues whose doorbells lie in the part of BAR0 that is mapped.
    const uint32_t by_doorbells = (uint32_t(device_->bar0_size()) - regs::kDoorbells) / (2 * stride) - 1;
    const uint16_t granted = uint16_t(std::min<uint32_t>(granted_queue_pairs(queues->dw0), by_doorbells));
    for (uint16_t qid = granted; qid >= 1; --qid) free_qids_.push_back(qid);
    log::info("pcie {}: {} (serial {}, firmware {}), {} I/O queue pairs, MDTS {} bytes, ONCS {:#x}, {}volatile "
              "write cache",
              bdf(), identity_.model, identity_.serial, identity_.firmware, granted, max_transfer_bytes(),
              identity_.oncs, identity_.volatile_write_cache ? "" : "no ");
    return {};
}

Controller::~Controller() {
    if (!enabled_) return;
    RealClock clock;
    if (auto r = shut_down_controller(*device_, clock, std::chrono::seconds(5)); !r)
        log::warn("pcie {}: shutting the controller down: {}", bdf(), r.error().describe());
    else
        log::info("pcie {}: controller shut down, device released", bdf());
}

uint64_t Controller::max_transfer_bytes() const {
    if (identity_.mdts == 0) return 0;
    return uint64_t(cap_.min_page_size()) << identity_.mdts;
}

uint64_t Controller::admin_data_iova() const { return admin_memory_->iova() + 2 * kPage; }

Result<proto::Cqe> Controller::admin(proto::Sqe sqe, std::chrono::milliseconds timeout, void* data_out) {
    std::lock_guard lock(admin_mutex_);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    if (!admin_queue_->submit(sqe, 0, deadline))
        return make_error(ErrorCode::Busy, fmt::format("{}: the admin queue is full", bdf()), kField);
    admin_queue_->ring();
    std::optional<proto::Cqe> done;
    for (auto wait = std::chrono::microseconds(10);; wait = std::min(wait * 2, std::chrono::microseconds(1000))) {
        admin_queue_->reap([&](uint64_t, const proto::Cqe& cqe) { done = cqe; });
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

Result<IoQueueMemory> Controller::create_io_queue(uint16_t wanted) {
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
    auto cq = admin(create_io_cq(q.qid, q.entries, q.block->iova() + sq_pages * kPage, false, 0));
    auto sq = cq ? admin(create_io_sq(q.qid, q.entries, q.block->iova(), q.qid)) : Result<proto::Cqe>(cq);
    if (!sq) {
        if (cq) (void)admin(delete_io_cq(q.qid));
        std::lock_guard lock(admin_mutex_);
        free_qids_.push_back(q.qid);
        return nvmfd::unexpected(sq.error());
    }
    log::debug("pcie {}: I/O queue pair {} with {} entries", bdf(), q.qid, q.entries);
    return q;
}

void Controller::delete_io_queue(const IoQueueMemory& q) {
    // The SQ before its CQ (spec). A drive that is gone cannot refuse:
    // the queue ID is free either way.
    if (auto r = admin(delete_io_sq(q.qid)); !r) log::warn("pcie {}: {}", bdf(), r.error().message);
    else if (auto r2 = admin(delete_io_cq(q.qid)); !r2) log::warn("pcie {}: {}", bdf(), r2.error().message);
    std::lock_guard lock(admin_mutex_);
    free_qids_.push_back(q.qid);
}

}  // namespace nvmfd::plugins::pcie
