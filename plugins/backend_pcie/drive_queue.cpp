#include "plugins/backend_pcie/drive_queue.hpp"

#include <algorithm>

#include "core/runtime/log.hpp"
#include "plugins/backend_pcie/drive_commands.hpp"
#include "plugins/backend_pcie/status_map.hpp"
#include "plugins/backend_pcie/transfer_split.hpp"

namespace nvmfd::plugins::pcie {
namespace {

using plugin::IoOp;
using plugin::IoStatus;

// What the host is told of one command's completion: success, the drive's
// own status translated (status_map.hpp), or, for an abort nvmfd itself
// caused, Aborted (retrying those is docs/pcie-design.md slice 3).
struct CommandResult {
    IoStatus status = IoStatus::Ok;
    uint16_t device_status = 0;
};
CommandResult result_of(const proto::Cqe& cqe, IoOp op) {
    const MappedStatus m = map_drive_status(cqe.status);
    if (m.host.ok()) return {};
    if (m.outcome == MappedStatus::Outcome::Retry) return {IoStatus::Aborted, 0};
    if (m.nvmfd_fault)
        log::error("pcie: the drive refused a {} command nvmfd built (status {:#x}); the host is told {:#x}",
                   plugin::io_op_name(op), proto::Status::from_cqe(cqe.status).value, m.host.value);
    return {IoStatus::DeviceStatus, m.host.value};
}

// A command's cookie: its parent record and its index in the parent's plan.
uint64_t cookie_of(uint32_t parent, uint32_t index) { return uint64_t(index) << 32 | parent; }
uint32_t parent_of(uint64_t cookie) { return uint32_t(cookie); }
uint32_t index_of(uint64_t cookie) { return uint32_t(cookie >> 32); }

}  // namespace

DriveQueue::DriveQueue(const QueueMemory& memory, std::span<const PrpListPage> slot_pages, const DmaTranslator& dma,
                       std::chrono::milliseconds timeout, uint32_t page_size, std::string name, SglUse sgl)
    : core_(memory),
      pages_(slot_pages.begin(), slot_pages.end()),
      dma_(dma),
      timeout_(timeout),
      page_size_(page_size),
      sgl_(sgl),
      parents_(core_.capacity()),
      piece_(page_size / 8 + 2),
      name_(std::move(name)) {
    for (uint32_t i = uint32_t(parents_.size()); i-- > 0;) free_parents_.push_back(i);
}

DriveShape DriveQueue::fit(DriveShape shape) const {
    const uint64_t one_list = uint64_t(page_size_ / 8) * page_size_;  // with PRP1's page: one more
    shape.piece_bytes = shape.piece_bytes ? std::min(shape.piece_bytes, one_list) : one_list;
    shape.piece_bytes -= shape.piece_bytes % shape.block_size;
    return shape;
}

void DriveQueue::submit(plugin::BlockIo& io, const DriveShape& shape) {
    if (failed_) return io.complete(failed_status_);
    if (!backlog_.empty() || !start(io, shape)) backlog_.push_back({&io, &shape});  // in order behind those waiting
}

bool DriveQueue::translate(const plugin::BlockIo& io, const DmaTranslator& dma, std::vector<DmaSegment>& out) {
    out.clear();
    for (uint32_t i = 0; i < io.iov_count; ++i) {
        auto iova = dma.iova(io.iov[i].iov_base, io.iov[i].iov_len);
        if (!iova) return false;
        out.push_back({*iova, io.iov[i].iov_len});
    }
    return true;
}

// False: no parent record free; the BlockIo waits.
bool DriveQueue::start(plugin::BlockIo& io, const DriveShape& shape) {
    const PlanSize size = count_commands(io, shape);
    if (size.status != IoStatus::Ok || size.commands == 0) {
        io.complete(size.status);
        return true;
    }
    if (free_parents_.empty()) return false;
    const uint32_t parent = free_parents_.back();
    Parent& p = parents_[parent];
    if (!translate(io, dma_, p.data)) {
        io.complete(IoStatus::WriteFault, EFAULT);  // memory nvmfd did not map for the drive
        return true;
    }
    free_parents_.pop_back();
    p.io = &io;
    p.shape = &shape;
    p.total = p.remaining = uint32_t(size.commands);
    p.sent = 0;
    p.status = IoStatus::Ok;
    p.device_status = 0;
    p.retries = 0;
    p.plan.resize(size.commands);
    plan_commands(io, shape, p.plan);
    sending_.push_back(parent);
    pump();
    return true;
}

void DriveQueue::pump() {
    // A BlockIo completed from in here may submit another at once; the
    // loops below pick it up (a nested pump would pop the wrong parent).
    if (pumping_ || held_ || failed_) return;
    pumping_ = true;
    for (;;) {
        while (!resend_.empty() && core_.next_slot()) {
            const uint64_t cookie = resend_.front();
            resend_.pop_front();
            Parent& p = parents_[parent_of(cookie)];
            if (!send(p.plan[index_of(cookie)], p, parent_of(cookie), index_of(cookie)))
                settle(parent_of(cookie), 1, IoStatus::WriteFault);
        }
        if (!resend_.empty()) break;
        while (!sending_.empty() && send_some(sending_.front())) sending_.pop_front();
        if (!sending_.empty() || backlog_.empty() || free_parents_.empty()) break;
        const Waiting w = backlog_.front();
        backlog_.pop_front();
        start(*w.io, *w.shape);
    }
    pumping_ = false;
}

bool DriveQueue::send_some(uint32_t parent) {
    Parent& p = parents_[parent];
    while (p.sent < p.total && core_.next_slot()) {
        if (!send(p.plan[p.sent], p, parent, p.sent)) {
            // The drive cannot be told where this piece's data is: the
            // commands already out complete normally; the rest fail.
            const uint32_t unsent = p.total - p.sent;
            p.sent = p.total;
            settle(parent, unsent, IoStatus::WriteFault);
            return true;
        }
        ++p.sent;
    }
    return p.sent == p.total;
}

bool DriveQueue::send(const PlannedCommand& c, Parent& p, uint32_t parent, uint32_t index) {
    proto::Sqe sqe = c.sqe;
    const PrpListPage& page = pages_[*core_.next_slot()];
    if (c.data_bytes) {
        const size_t n = slice_segments(p.data, c.data_offset, c.data_bytes, piece_);
        if (n == 0 || !describe_data(sqe, std::span(piece_).first(n), page)) return false;
    } else if (c.range_count) {
        dsm_ranges(*p.io, *p.shape, c.first_range, c.range_count,
                   std::span(reinterpret_cast<proto::DsmRange*>(page.entries), page_size_ / sizeof(proto::DsmRange)));
        set_prp(sqe, page.iova, 0);
    }
    core_.submit(sqe, cookie_of(parent, index), std::chrono::steady_clock::now() + timeout_);
    return true;
}

// The command's data pointer: an SGL when the policy prefers one for these
// pieces, else PRPs; an SGL too when PRPs cannot describe them (a piece
// starting or ending inside a page) and the drive takes SGLs.
bool DriveQueue::describe_data(proto::Sqe& sqe, std::span<const DmaSegment> data, const PrpListPage& page) {
    const bool sgl_first = prefer_sgl(sgl_.policy, data);
    auto as_sgl = [&] {
        auto d = build_sgl(data, sgl_.support, page, page_size_);
        if (!d) return false;
        set_sgl(sqe, *d);
        ++sgl_commands_;
        return true;
    };
    if (sgl_first && as_sgl()) return true;
    if (auto prp = build_prp(data, page_size_, std::span(&page, 1))) {
        set_prp(sqe, prp->prp1, prp->prp2);
        ++prp_commands_;
        return true;
    }
    return !sgl_first && sgl_.policy != SglPolicy::Never && as_sgl();
}

// `commands` of the parent's are done with `status`; the last one completes
// the BlockIo, with the first failure any of its commands had.
void DriveQueue::settle(uint32_t parent, uint32_t commands, IoStatus status, uint16_t device_status) {
    Parent& p = parents_[parent];
    if (p.status == IoStatus::Ok && status != IoStatus::Ok) {
        p.status = status;
        p.device_status = device_status;
    }
    p.remaining -= commands;
    if (p.remaining > 0) return;
    plugin::BlockIo& io = *p.io;
    const IoStatus final_status = p.status;
    const uint16_t final_device_status = p.device_status;
    p.io = nullptr;
    free_parents_.push_back(parent);
    if (final_status != IoStatus::Ok) report(io, p.shape->nsid, final_status, final_device_status);
    if (final_status == IoStatus::DeviceStatus)
        io.complete_with_device_status(final_device_status);
    else
        io.complete(final_status);
}

// The first ten failures, then one in a thousand (a failing drive must not
// flood the journal).
void DriveQueue::report(const plugin::BlockIo& io, uint32_t nsid, IoStatus status, uint16_t device_status) {
    const uint64_t n = ++failures_;
    if (n > 10 && n % 1000 != 0) return;
    log::warn("{} nsid {}: {} of {} bytes at offset {} failed: {}{}{}", name_, nsid,
              plugin::io_op_name(io.op), io.length, io.offset, plugin::io_status_name(status),
              status == IoStatus::DeviceStatus ? fmt::format(" {:#x}", device_status) : std::string(),
              n > 10 ? fmt::format(" [{} failures so far]", n) : std::string());
}

void DriveQueue::complete_command(uint64_t cookie, const proto::Cqe& cqe) {
    Parent& p = parents_[parent_of(cookie)];
    const CommandResult r = result_of(cqe, p.io->op);
    if (r.status == IoStatus::Aborted && p.retries < kMaxRetries) {
        // nvmfd's own Abort or reset ended it, not the drive's verdict: again.
        ++p.retries;
        resend_.push_back(cookie);
        return;
    }
    settle(parent_of(cookie), 1, r.status, r.device_status);
}

size_t DriveQueue::poll() {
    if (held_ || failed_) return 0;  // the rings are being reset, or given up
    const size_t n = core_.reap([&](uint64_t cookie, const proto::Cqe& cqe) { complete_command(cookie, cqe); });
    pump();  // slots came free: send what waits, in order
    return n;
}

std::optional<DriveQueue::Expired> DriveQueue::expired(std::chrono::steady_clock::time_point now) {
    if (held_ || failed_) return std::nullopt;
    const auto cid = core_.first_expired(now);
    if (!cid) return std::nullopt;
    return Expired{*cid, core_.mark_aborted(*cid, now + timeout_)};
}

void DriveQueue::resume_after_reset() {
    if (failed_) return;
    core_.resubmit_after_reset(std::chrono::steady_clock::now() + timeout_);
    held_ = false;
    pump();
}

void DriveQueue::fail_all(IoStatus status) {
    if (failed_) return;
    failed_ = true;  // from here on, what completions submit fails at once
    failed_status_ = status;
    held_ = false;
    for (uint64_t cookie : core_.release_all()) settle(parent_of(cookie), 1, status);
    while (!resend_.empty()) {
        const uint64_t cookie = resend_.front();
        resend_.pop_front();
        settle(parent_of(cookie), 1, status);
    }
    while (!sending_.empty()) {
        const uint32_t parent = sending_.front();
        sending_.pop_front();
        Parent& p = parents_[parent];
        const uint32_t unsent = p.total - p.sent;
        p.sent = p.total;
        if (unsent) settle(parent, unsent, status);
    }
    while (!backlog_.empty()) {
        plugin::BlockIo* io = backlog_.front().io;
        backlog_.pop_front();
        io->complete(status);
    }
}

}  // namespace nvmfd::plugins::pcie
