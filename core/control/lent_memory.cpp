#include "core/control/lent_memory.hpp"

#include <algorithm>

#include "core/runtime/log.hpp"
#include "core/target/target.hpp"

namespace nvmfd::control {

void LentMemory::transport_added(plugin::Transport& transport) {
    if (!transport.registers_lent_memory()) return;
    takers_.push_back(&transport);
    for (auto& [device, lender] : lenders_) {
        if (!lender.pinned) {
            lend(*device, lender);  // tells every taker, this one included
            continue;
        }
        for (auto range : lender.ranges) transport.memory_lent(range);
    }
}

void LentMemory::device_opened(plugin::BlockDevice& device) {
    if (!device.info().provides_read_buffers) return;
    Lender& lender = lenders_[&device];
    if (any_taker()) lend(device, lender);
}

void LentMemory::device_resized(plugin::BlockDevice& device) {
    auto it = lenders_.find(&device);
    if (it != lenders_.end() && it->second.pinned) lend(device, it->second);
}

void LentMemory::device_closing(plugin::BlockDevice& device) {
    auto it = lenders_.find(&device);
    if (it == lenders_.end()) return;
    for (auto range : it->second.ranges)
        for (plugin::Transport* t : takers_) t->memory_withdrawn(range);
    lenders_.erase(it);
}

std::vector<std::span<const std::byte>> LentMemory::ranges_of(plugin::BlockDevice& device) const {
    auto it = lenders_.find(&device);
    return it == lenders_.end() ? std::vector<std::span<const std::byte>>{} : it->second.ranges;
}

void LentMemory::lend(plugin::BlockDevice& device, Lender& lender) {
    const bool first = !lender.pinned;
    std::span<const std::byte> all = device.pin_lent_memory();
    lender.pinned = true;
    if (first) {
        // The device now keeps its pages in place; every reactor must see
        // that before a transport registers (pins) them, or a deallocation
        // already under way could still swap a page under the registration.
        target_.sync_reactors();
    }
    // What was told already is a prefix of `all` (a range grows, never moves).
    const std::byte* told_end = all.data();
    for (auto r : lender.ranges) told_end = std::max(told_end, r.data() + r.size());
    if (all.empty() || told_end >= all.data() + all.size()) return;
    std::span<const std::byte> fresh(told_end, all.data() + all.size());
    lender.ranges.push_back(fresh);
    for (plugin::Transport* t : takers_) {
        t->memory_lent(fresh);
        log::info("{}: {} MiB of a namespace's memory lent to it (read data sent without a copy)", t->name(),
                  fresh.size() >> 20);
    }
}

}  // namespace nvmfd::control
