#include "plugins/backend_pcie/sgl.hpp"

#include <cstring>
#include <limits>

#include <fmt/format.h>

namespace nvmfd::plugins::pcie {
namespace {

nvmfd::unexpected<Error> not_describable(std::string why) {
    return make_error(ErrorCode::InvalidArgument, "an SGL cannot describe the data: " + why, "data");
}

proto::SglDescriptor descriptor(uint64_t address, uint32_t length, uint8_t type) {
    proto::SglDescriptor d{};
    d.address = address;
    d.length = length;
    d.type = type;
    return d;
}

}  // namespace

SglSupport sgl_support(uint32_t sgls) {
    switch (sgls & 3) {
    case 1: return SglSupport::Any;
    case 2: return SglSupport::DwordAligned;
    default: return SglSupport::None;  // 3 is reserved
    }
}

bool prefer_sgl(SglPolicy policy, std::span<const DmaSegment> segments) {
    if (policy == SglPolicy::Never || segments.empty()) return false;
    if (policy == SglPolicy::Always) return true;
    uint64_t total = 0;
    for (const DmaSegment& s : segments) total += s.len;
    return total / segments.size() >= kSglThreshold;
}

Result<proto::SglDescriptor> build_sgl(std::span<const DmaSegment> segments, SglSupport support,
                                       const PrpListPage& list, uint32_t page_size) {
    if (support == SglSupport::None)
        return make_error(ErrorCode::NotSupported, "the drive does not take SGLs", "data");
    if (segments.empty()) return not_describable("there is none");
    for (size_t i = 0; i < segments.size(); ++i) {
        const DmaSegment& s = segments[i];
        if (s.len == 0) return not_describable(fmt::format("piece {} is empty", i));
        if (s.len > std::numeric_limits<uint32_t>::max())
            return not_describable(fmt::format("piece {} is {} bytes, more than a descriptor holds", i, s.len));
        if (support == SglSupport::DwordAligned && ((s.iova | s.len) & 3))
            return not_describable(fmt::format("piece {} is not in whole dwords, which the drive requires", i));
    }
    if (segments.size() == 1) return descriptor(segments[0].iova, uint32_t(segments[0].len), sgl_type::kDataBlock);

    const size_t room = page_size / sizeof(proto::SglDescriptor);
    if (segments.size() > room)
        return make_error(ErrorCode::NotSupported,
                          fmt::format("{} pieces, a slot's SGL page lists {}", segments.size(), room), "data");
    auto* out = reinterpret_cast<proto::SglDescriptor*>(list.entries);
    for (size_t i = 0; i < segments.size(); ++i) {
        const proto::SglDescriptor d = descriptor(segments[i].iova, uint32_t(segments[i].len), sgl_type::kDataBlock);
        std::memcpy(&out[i], &d, sizeof d);
    }
    return descriptor(list.iova, uint32_t(segments.size() * sizeof(proto::SglDescriptor)), sgl_type::kLastSegment);
}

}  // namespace nvmfd::plugins::pcie
