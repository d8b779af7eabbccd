// Physical Region Page lists (NVMe base spec, "Physical Region Page Entry
// and List"): how a command tells the drive where its data is. PRP1 is the
// first data byte (any dword-aligned offset in its page); PRP2 is either the
// second page (two pages in all) or the address of a PRP list, whose entries
// are the following pages, page aligned; when a list page is full, its last
// entry points to the next list page. Every piece of data but the first must
// start on a page boundary and every piece but the last must end on one.
//
// Built into list pages the caller owns (allocated once per queue slot and
// mapped for the device), so nothing is allocated per command. Pure: the
// addresses are I/O virtual addresses, the list pages plain memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "core/runtime/error.hpp"

namespace nvmfd::plugins::pcie {

// A piece of a command's data as the device sees it.
struct DmaSegment {
    uint64_t iova = 0;
    uint64_t len = 0;
    bool operator==(const DmaSegment&) const = default;
};

// One page for PRP list entries: where the driver writes it, and where the
// device reads it.
struct PrpListPage {
    uint64_t* entries = nullptr;  // page_size / 8 of them
    uint64_t iova = 0;            // page aligned
};

struct Prp {
    uint64_t prp1 = 0;
    uint64_t prp2 = 0;
    size_t list_pages_used = 0;
};

// The PRP entries for `segments` with the controller's memory page size
// (4096 << CC.MPS). Refused (InvalidArgument, field "data") when PRPs
// cannot describe the data: a piece that starts or ends inside a page where
// the rules above forbid it, an odd (not dword aligned) start, or no data.
// NotSupported when `list_pages` is too short for it.
Result<Prp> build_prp(std::span<const DmaSegment> segments, uint32_t page_size, std::span<const PrpListPage> list_pages);

// How many list pages a transfer of `bytes` starting at offset `first_offset`
// in its page needs at most: what a queue slot preallocates for the largest
// transfer it will carry (MDTS).
size_t prp_list_pages_for(uint64_t bytes, uint32_t page_size, uint64_t first_offset = 0);

}  // namespace nvmfd::plugins::pcie
