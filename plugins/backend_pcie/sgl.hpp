// Scatter Gather Lists for a drive's data (NVMe base spec, "Scatter Gather
// List (SGL)"), the alternative to PRPs for drives whose Identify
// Controller SGLS says so. A command with PSDT 01 carries one descriptor in
// its DPTR: a Data Block (address, length) when its data is one piece, or
// a Last Segment pointing at a list of Data Blocks, written into the
// command's slot page (as PRP lists are: no allocation per command). Unlike
// PRPs, a piece may start and end anywhere, and one descriptor covers a
// piece of any length, not one page each.
#pragma once

#include <cstdint>
#include <span>

#include "core/proto/nvme.hpp"
#include "core/runtime/error.hpp"
#include "plugins/backend_pcie/prp.hpp"

namespace nvmfd::plugins::pcie {

// What a drive supports (SGLS bits 1:0).
enum class SglSupport : uint8_t { None, Any, DwordAligned };
SglSupport sgl_support(uint32_t sgls);

// When a queue describes data with SGLs rather than PRPs.
enum class SglPolicy : uint8_t {
    Never,
    Large,   // when the pieces average kSglThreshold or more, or PRPs cannot describe them
    Always,  // whenever an SGL can describe the data
};
// Where `sgl=auto` switches: below it PRPs cost drives less to walk (Linux's
// nvme driver uses the same default, its sgl_threshold).
inline constexpr uint64_t kSglThreshold = 32768;

// How a queue pair describes data on its drive.
struct SglUse {
    SglPolicy policy = SglPolicy::Never;
    SglSupport support = SglSupport::None;
};

// Whether a queue with `policy` describes `segments` with an SGL (an SGL
// is tried first; PRPs are the fallback).
bool prefer_sgl(SglPolicy policy, std::span<const DmaSegment> segments);

// The DPTR descriptor for `segments`, the list (if any) written into
// `list` (a slot page of `page_size` bytes: page_size / 16 descriptors).
// Refused (InvalidArgument, field "data") for an empty piece, a piece over
// 4 GiB, or a misaligned one when the drive wants dwords; NotSupported for
// more pieces than a page lists.
Result<proto::SglDescriptor> build_sgl(std::span<const DmaSegment> segments, SglSupport support,
                                       const PrpListPage& list, uint32_t page_size);

namespace sgl_type {
inline constexpr uint8_t kDataBlock = 0x00;    // type 0, subtype Address
inline constexpr uint8_t kSegment = 0x20;      // type 2: a list, whose last descriptor may chain on
inline constexpr uint8_t kLastSegment = 0x30;  // type 3: the last list
}  // namespace sgl_type

}  // namespace nvmfd::plugins::pcie
