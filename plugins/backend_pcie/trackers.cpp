#include "plugins/backend_pcie/trackers.hpp"

#include <algorithm>

namespace nvmfd::plugins::pcie {

Trackers::Trackers(uint16_t slots) : slots_(std::min<uint16_t>(slots, 4095)) {
    for (uint16_t i = uint16_t(slots_.size()); i-- > 0;) free_.push_back(i);
}

std::optional<uint16_t> Trackers::take(uint64_t cookie, Clock::time_point deadline) {
    if (free_.empty()) return std::nullopt;
    const uint16_t index = free_.back();
    free_.pop_back();
    Slot& s = slots_[index];
    s.generation = uint8_t((s.generation + 1) & 0xf);
    s.cookie = cookie;
    s.deadline = deadline;
    s.order = next_order_++;
    s.busy = true;
    s.aborted = false;
    ++busy_;
    return cid_of(index, s.generation);
}

bool Trackers::mark_aborted(uint16_t cid, Clock::time_point deadline) {
    const uint16_t index = cid & 0xfff;
    if (index >= slots_.size()) return false;
    Slot& s = slots_[index];
    if (!s.busy || s.generation != cid >> 12) return false;
    const bool before = s.aborted;
    s.aborted = true;
    s.deadline = deadline;
    return before;
}

std::vector<uint64_t> Trackers::release_all() {
    std::vector<uint64_t> cookies;
    for (uint16_t cid : in_submission_order()) {
        Slot& s = slots_[cid & 0xfff];
        cookies.push_back(s.cookie);
        s.busy = false;
        free_.push_back(cid & 0xfff);
    }
    busy_ = 0;
    return cookies;
}

std::optional<uint64_t> Trackers::complete(uint16_t cid) {
    const uint16_t index = cid & 0xfff;
    if (index >= slots_.size()) return std::nullopt;
    Slot& s = slots_[index];
    if (!s.busy || s.generation != cid >> 12) return std::nullopt;
    s.busy = false;
    --busy_;
    free_.push_back(index);
    return s.cookie;
}

std::optional<uint16_t> Trackers::first_expired(Clock::time_point now) const {
    std::optional<uint16_t> found;
    uint64_t oldest = UINT64_MAX;
    for (uint16_t i = 0; i < slots_.size(); ++i) {
        const Slot& s = slots_[i];
        if (s.busy && s.deadline <= now && s.order < oldest) {
            oldest = s.order;
            found = cid_of(i, s.generation);
        }
    }
    return found;
}

std::vector<uint16_t> Trackers::in_submission_order() const {
    std::vector<uint16_t> out;
    for (uint16_t i = 0; i < slots_.size(); ++i)
        if (slots_[i].busy) out.push_back(i);
    std::sort(out.begin(), out.end(), [&](uint16_t a, uint16_t b) { return slots_[a].order < slots_[b].order; });
    for (uint16_t& i : out) i = cid_of(i, slots_[i].generation);
    return out;
}

std::vector<std::pair<uint16_t, uint16_t>> Trackers::renumber(Clock::time_point deadline) {
    std::vector<std::pair<uint16_t, uint16_t>> out;
    for (uint16_t old : in_submission_order()) {
        Slot& s = slots_[old & 0xfff];
        s.generation = uint8_t((s.generation + 1) & 0xf);
        s.deadline = deadline;
        s.order = next_order_++;
        s.aborted = false;  // the reset dealt with it
        out.emplace_back(old, cid_of(old & 0xfff, s.generation));
    }
    return out;
}

}  // namespace nvmfd::plugins::pcie
