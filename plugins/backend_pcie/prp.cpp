#include "plugins/backend_pcie/prp.hpp"

#include <fmt/format.h>

namespace nvmfd::plugins::pcie {
namespace {

nvmfd::unexpected<Error> not_describable(std::string why) {
    return make_error(ErrorCode::InvalidArgument, "PRPs cannot describe the data: " + why, "data");
}

}  // namespace

size_t prp_list_pages_for(uint64_t bytes, uint32_t page_size, uint64_t first_offset) {
    if (bytes == 0) return 0;
    const uint64_t pages = (first_offset % page_size + bytes + page_size - 1) / page_size;
    if (pages <= 2) return 0;
    const uint64_t entries = pages - 1;  // every page after the first
    const uint64_t per_page = page_size / 8;
    // Each list page holds per_page entries, but one of them chains to the
    // next page unless it is the last list page.
    if (entries <= per_page) return 1;
    return size_t(1 + (entries - per_page + (per_page - 1) - 1) / (per_page - 1));
}

Result<Prp> build_prp(std::span<const DmaSegment> segments, uint32_t page_size,
                      std::span<const PrpListPage> list_pages) {
    const uint64_t mask = page_size - 1;
    uint64_t total = 0;
    for (size_t i = 0; i < segments.size(); ++i) {
        const DmaSegment& s = segments[i];
        if (s.len == 0) return not_describable(fmt::format("piece {} is empty", i));
        if (i == 0 && (s.iova & 3)) return not_describable("the first byte is not dword aligned");
        if (i > 0 && (s.iova & mask)) return not_describable(fmt::format("piece {} does not start on a page", i));
        if (i + 1 < segments.size() && ((s.iova + s.len) & mask))
            return not_describable(fmt::format("piece {} does not end on a page", i));
        total += s.len;
    }
    if (total == 0) return not_describable("there is none");

    // The page addresses after the first one, in order: PRP2 or the list.
    Prp out;
    out.prp1 = segments[0].iova;
    const uint64_t first_page_room = page_size - (segments[0].iova & mask);
    const size_t per_page = page_size / 8;
    // Walk the page addresses after the first, calling `put` for each.
    auto each_page = [&](auto put) {
        for (size_t i = 0; i < segments.size(); ++i) {
            uint64_t start = segments[i].iova, len = segments[i].len;
            if (i == 0) {
                if (len <= first_page_room) continue;
                start += first_page_room;
                len -= first_page_room;
            }
            for (uint64_t off = 0; off < len; off += page_size) put(start + off);
        }
    };
    uint64_t after_first = 0;  // entries needed
    each_page([&](uint64_t) { ++after_first; });
    if (after_first == 0) return out;

    if (after_first == 1) {
        each_page([&](uint64_t page) { out.prp2 = page; });
        return out;
    }
    const size_t needed = prp_list_pages_for(total, page_size, segments[0].iova & mask);
    if (needed > list_pages.size())
        return make_error(ErrorCode::NotSupported,
                          fmt::format("{} bytes need {} PRP list pages, the slot has {}", total, needed,
                                      list_pages.size()),
                          "data");
    out.prp2 = list_pages[0].iova;
    size_t page = 0, slot = 0;
    uint64_t left = after_first;
    each_page([&](uint64_t addr) {
        // The last slot of a full list page chains to the next, unless this is the last entry.
        if (slot == per_page - 1 && left > 1) {
            list_pages[page].entries[slot] = list_pages[page + 1].iova;
            ++page;
            slot = 0;
        }
        list_pages[page].entries[slot++] = addr;
        --left;
    });
    out.list_pages_used = page + 1;
    return out;
}

}  // namespace nvmfd::plugins::pcie
