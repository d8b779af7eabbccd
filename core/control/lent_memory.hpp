// Memory that backends lend for reads (the malloc backend: the namespace
// itself), told to the transports that register memory with their hardware
// (RDMA), so that they send read data from it instead of copying it into
// their own registered buffers. A device is pinned only once such a
// transport exists: pinning commits its memory and keeps its pages in place.
// Control thread (under the control mutex).
#pragma once

#include <cstddef>
#include <map>
#include <span>
#include <vector>

#include "core/plugin/backend.hpp"
#include "core/plugin/transport.hpp"

namespace nvmfd::target { class Target; }

namespace nvmfd::control {

class LentMemory {
public:
    explicit LentMemory(target::Target& target) : target_(target) {}

    // A transport was made: it gets every range lent so far, if it wants them.
    void transport_added(plugin::Transport& transport);
    // A device that lends memory is live (serving commands).
    void device_opened(plugin::BlockDevice& device);
    // Its size changed: a range it grew by is told as one more range.
    void device_resized(plugin::BlockDevice& device);
    // Its commands have all been released and it is about to go: every
    // transport lets go of its ranges first.
    void device_closing(plugin::BlockDevice& device);

    // The ranges told for `device` (tests, status).
    std::vector<std::span<const std::byte>> ranges_of(plugin::BlockDevice& device) const;

private:
    struct Lender {
        bool pinned = false;
        std::vector<std::span<const std::byte>> ranges;  // told to every taker
    };
    bool any_taker() const { return !takers_.empty(); }
    // Pins `device` (first time) or looks at its range again; tells the takers what is new.
    void lend(plugin::BlockDevice& device, Lender& lender);

    target::Target& target_;
    std::vector<plugin::Transport*> takers_;
    std::map<plugin::BlockDevice*, Lender> lenders_;
};

}  // namespace nvmfd::control
