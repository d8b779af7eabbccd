#include "plugins/backend_pcie/drive_queue.hpp"

#include <algorithm>

#include "plugins/backend_pcie/drive_commands.hpp"
#include "plugins/backend_pcie/status_map.hpp"
#include "plugins/backend_pcie/transfer_split.hpp"

namespace nvmfd::plugins::pcie {
namespace {

using plugin::IoOp;
using plugin::IoStatus;

// The drive's status as the backend contract can say it today (a BlockIo
// carries an IoStatus; passing the drive's own status through is slice 2's
// contract change, docs/pcie-design.md 9.3).
IoStatus io_status_for(const MappedStatus& m, IoOp op) {
    if (m.host.ok()) return IoStatus::Ok;
    const auto sct = m.host.sct();
    const uint8_t sc = m.host.sc();
    if (sct == proto::StatusCodeType::Generic && sc == 0x80) return IoStatus::InvalidRange;
    if (sct == proto::StatusCodeType::Generic && sc == 0x81) return IoStatus::NoSpace;
    if (m.outcome == MappedStatus::Outcome::Retry) return IoStatus::Aborted;  // retries: slice 3
    return op == IoOp::Read ? IoStatus::ReadError : IoStatus::WriteFault;
}

// The worse of two statuses: any failure beats Ok; the first failure stays.
IoStatus worse(IoStatus a, IoStatus b) { return a != IoStatus::Ok ? a : b; }

}  // namespace

DriveQueue::DriveQueue(const QueueMemory& memory, std::span<const PrpListPage> slot_pages, const DriveShape& shape,
                       const DmaTranslator& dma, std::chrono::milliseconds timeout, uint32_t page_size)
    : core_(memory),
      pages_(slot_pages.begin(), slot_pages.end()),
      shape_(shape),
      dma_(dma),
      timeout_(timeout),
      page_size_(page_size),
      parents_(core_.capacity()),
      piece_(page_size / 8 + 2) {
    const uint64_t one_list = uint64_t(page_size / 8) * page_size;  // with PRP1's page: one more
    shape_.piece_bytes = shape_.piece_bytes ? std::min(shape_.piece_bytes, one_list) : one_list;
    shape_.piece_bytes -= shape_.piece_bytes % shape_.block_size;
    for (uint32_t i = uint32_t(parents_.size()); i-- > 0;) free_parents_.push_back(i);
}

void DriveQueue::submit(plugin::BlockIo& io) {
    if (!backlog_.empty() || !start(io)) backlog_.push_back(&io);  // in order behind those waiting
}

bool DriveQueue::translate(const plugin::BlockIo& io) {
    data_.clear();
    for (uint32_t i = 0; i < io.iov_count; ++i) {
        auto iova = dma_.iova(io.iov[i].iov_base, io.iov[i].iov_len);
        if (!iova) return false;
        data_.push_back({*iova, io.iov[i].iov_len});
    }
    return true;
}

// False: no parent record free; the BlockIo waits.
bool DriveQueue::start(plugin::BlockIo& io) {
    const PlanSize size = count_commands(io, shape_);
    if (size.status != IoStatus::Ok || size.commands == 0) {
        io.complete(size.status);
        return true;
    }
    if (!translate(io)) {
        io.complete(IoStatus::WriteFault, EFAULT);  // memory nvmfd did not map for the drive
        return true;
    }
    if (free_parents_.empty()) return false;
    const uint32_t parent = free_parents_.back();
    free_parents_.pop_back();
    parents_[parent] = Parent{&io, uint32_t(size.commands), 0, uint32_t(size.commands), IoStatus::Ok};
    sending_.push_back(parent);
    pump();
    return true;
}

void DriveQueue::pump() {
    // A BlockIo completed from in here may submit another at once; the
    // loops below pick it up (a nested pump would pop the wrong parent).
    if (pumping_) return;
    pumping_ = true;
    for (;;) {
        while (!sending_.empty() && send_some(sending_.front())) sending_.pop_front();
        if (!sending_.empty() || backlog_.empty() || free_parents_.empty()) break;
        plugin::BlockIo* io = backlog_.front();
        backlog_.pop_front();
        start(*io);
    }
    pumping_ = false;
}

bool DriveQueue::send_some(uint32_t parent) {
    Parent& p = parents_[parent];
    if (plan_.size() < p.total) plan_.resize(p.total);
    plan_commands(*p.io, shape_, std::span(plan_).first(p.total));
    if (!translate(*p.io)) {  // mapped at start, so not now either: give the rest up
        settle(parent, p.total - p.sent, IoStatus::WriteFault);
        return true;
    }
    while (p.sent < p.total && core_.next_slot()) {
        if (!send(plan_[p.sent], *p.io, parent)) {
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

bool DriveQueue::send(const PlannedCommand& c, plugin::BlockIo& io, uint32_t parent) {
    proto::Sqe sqe = c.sqe;
    const PrpListPage& page = pages_[*core_.next_slot()];
    if (c.data_bytes) {
        const size_t n = slice_segments(data_, c.data_offset, c.data_bytes, piece_);
        if (n == 0) return false;
        auto prp = build_prp(std::span(piece_).first(n), page_size_, std::span(&page, 1));
        if (!prp) return false;
        set_prp(sqe, prp->prp1, prp->prp2);
    } else if (c.range_count) {
        dsm_ranges(io, shape_, c.first_range, c.range_count,
                   std::span(reinterpret_cast<proto::DsmRange*>(page.entries), page_size_ / sizeof(proto::DsmRange)));
        set_prp(sqe, page.iova, 0);
    }
    core_.submit(sqe, parent, std::chrono::steady_clock::now() + timeout_);
    return true;
}

// `commands` of the parent's are done with `status`; the last one completes the BlockIo.
void DriveQueue::settle(uint32_t parent, uint32_t commands, IoStatus status) {
    Parent& p = parents_[parent];
    p.status = worse(p.status, status);
    p.remaining -= commands;
    if (p.remaining > 0) return;
    const Parent done = p;
    parents_[parent] = Parent{};
    free_parents_.push_back(parent);
    done.io->complete(done.status);
}

size_t DriveQueue::poll() {
    const size_t n = core_.reap([&](uint64_t cookie, const proto::Cqe& cqe) {
        const uint32_t parent = uint32_t(cookie);
        settle(parent, 1, io_status_for(map_drive_status(cqe.status), parents_[parent].io->op));
    });
    pump();  // slots came free: send what waits, in order
    return n;
}

}  // namespace nvmfd::plugins::pcie
