// How a drive reads a command's SGL (NVMe base spec, "Scatter Gather List
// (SGL)"): the tests' one reading of the rules, used by the simulated drive
// and by the SGL builder's own tests. The DPTR holds a Data Block (the
// whole data) or a (Last) Segment descriptor pointing at a list of
// descriptors, 16 bytes each; a Segment list's last descriptor is the next
// Segment or Last Segment; a Last Segment list holds Data Blocks only. The
// Data Blocks must add up to exactly the command's length (nvmfd never
// sets "SGL longer than the data").
#pragma once

#include <cstdint>
#include <cstring>
#include <functional>
#include <optional>
#include <vector>

#include "core/proto/nvme.hpp"
#include "plugins/backend_pcie/prp.hpp"
#include "plugins/backend_pcie/sgl.hpp"

namespace nvmfd::test {

struct SglWalk {
    std::vector<plugins::pcie::DmaSegment> data;
    uint16_t status = 0;  // the drive's verdict: 0, or Invalid SGL Segment Descriptor / Data SGL Length Invalid
};

// `list_at(iova, bytes)`: the list stored there, or null.
inline SglWalk walk_sgl(const proto::SglDescriptor& dptr, uint64_t len,
                        const std::function<const proto::SglDescriptor*(uint64_t, uint64_t)>& list_at) {
    namespace t = plugins::pcie::sgl_type;
    constexpr uint16_t kInvalidSegment = 0x0d, kLengthInvalid = 0x0f, kInvalidType = 0x11;
    SglWalk w;
    uint64_t total = 0;
    auto take = [&](const proto::SglDescriptor& d) {
        w.data.push_back({d.address, d.length});
        total += d.length;
    };
    if (dptr.type == t::kDataBlock) {
        take(dptr);
    } else {
        proto::SglDescriptor seg = dptr;
        for (int depth = 0;; ++depth) {
            if ((seg.type != t::kSegment && seg.type != t::kLastSegment) || seg.length == 0 || seg.length % 16 ||
                depth > 64)
                return {{}, kInvalidSegment};
            const uint64_t n = seg.length / 16;
            const proto::SglDescriptor* list = list_at(seg.address, seg.length);
            if (!list) return {{}, kInvalidSegment};
            const bool last = seg.type == t::kLastSegment;
            for (uint64_t i = 0; i < n; ++i) {
                proto::SglDescriptor d;
                std::memcpy(&d, &list[i], sizeof d);
                if (d.type == t::kDataBlock) {
                    take(d);
                } else if (!last && i + 1 == n && (d.type == t::kSegment || d.type == t::kLastSegment)) {
                    seg = d;
                } else {
                    return {{}, d.type == t::kSegment || d.type == t::kLastSegment ? kInvalidSegment : kInvalidType};
                }
            }
            if (last) break;
            if (seg.address == 0 && seg.length == 0) return {{}, kInvalidSegment};
        }
    }
    if (total != len) return {{}, kLengthInvalid};
    return w;
}

}  // namespace nvmfd::test
