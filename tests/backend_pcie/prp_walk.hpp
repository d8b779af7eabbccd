// How a drive reads a command's PRPs (NVMe base spec, "Physical Region Page
// Entry and List"): the tests' one reading of the rules, used by the
// simulated drive and by the PRP builder's own tests. PRP1 may start
// anywhere in its page (dword aligned); PRP2 is the second page (page
// aligned), or the list (which may start inside its page); list entries
// are page aligned, and a list page's last entry points to the next list
// page while more than a page of data is left.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "plugins/backend_pcie/prp.hpp"

namespace nvmfd::test {

// The data's pieces, in order, one per page entry; nullopt for PRPs a
// strict drive refuses (a misaligned PRP2 or entry, a list it cannot
// read). `entry_at(iova)`: the list entry stored at that address, or null.
inline std::optional<std::vector<plugins::pcie::DmaSegment>> walk_prps(
    uint64_t prp1, uint64_t prp2, uint64_t len, uint32_t page,
    const std::function<const uint64_t*(uint64_t)>& entry_at) {
    std::vector<plugins::pcie::DmaSegment> out;
    if (prp1 % 4) return std::nullopt;
    const uint64_t first = std::min<uint64_t>(len, page - prp1 % page);
    out.push_back({prp1, first});
    uint64_t left = len - first;
    if (left == 0) return out;
    if (left <= page) {
        if (prp2 % page) return std::nullopt;
        out.push_back({prp2, left});
        return out;
    }
    if (prp2 % 8) return std::nullopt;  // a list may start inside its page
    const uint64_t* e = entry_at(prp2);
    uint64_t in_page = (page - prp2 % page) / 8;
    while (left > 0) {
        if (!e) return std::nullopt;
        if (in_page == 1 && left > page) {  // the last entry chains to the next list page
            if (*e % page) return std::nullopt;
            e = entry_at(*e);
            in_page = page / 8;
            continue;
        }
        if (*e % page) return std::nullopt;
        const uint64_t n = std::min<uint64_t>(left, page);
        out.push_back({*e, n});
        left -= n;
        ++e;
        --in_page;
    }
    return out;
}

}  // namespace nvmfd::test
