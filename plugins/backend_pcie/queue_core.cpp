#include "plugins/backend_pcie/queue_core.hpp"

#include <cstring>

namespace nvmfd::plugins::pcie {

QueueCore::QueueCore(const QueueMemory& m)
    : memory_(m),
      sq_(m.sq, m.entries, m.sq_doorbell),
      cq_(m.cq, m.entries, m.cq_doorbell),
      trackers_(uint16_t(m.entries - 1)),
      commands_(m.entries) {}

std::optional<uint16_t> QueueCore::submit(proto::Sqe sqe, uint64_t cookie, Clock::time_point deadline) {
    auto cid = trackers_.take(cookie, deadline);
    if (!cid) return std::nullopt;
    sqe.cid = *cid;
    commands_[*cid & 0xfff] = sqe;
    sq_.push(sqe);
    return cid;
}

size_t QueueCore::reap(const std::function<void(uint64_t, const proto::Cqe&)>& on_complete) {
    size_t delivered = 0;
    while (const proto::Cqe* c = cq_.peek()) {
        const proto::Cqe cqe = *c;
        cq_.pop();
        sq_.head_moved(cqe.sqhd);
        if (auto cookie = trackers_.complete(cqe.cid)) {
            on_complete(*cookie, cqe);
            ++delivered;
        } else {
            ++stale_;
        }
    }
    cq_.ring();
    return delivered;
}

size_t QueueCore::resubmit_after_reset(Clock::time_point deadline) {
    std::memset(static_cast<void*>(memory_.cq), 0, sizeof(proto::Cqe) * memory_.entries);
    sq_.restart();
    cq_.restart();
    const auto moved = trackers_.renumber(deadline);
    for (const auto& [old_cid, new_cid] : moved) {
        proto::Sqe sqe = commands_[old_cid & 0xfff];
        sqe.cid = new_cid;
        commands_[new_cid & 0xfff] = sqe;
        sq_.push(sqe);
    }
    sq_.ring();
    return moved.size();
}

}  // namespace nvmfd::plugins::pcie
