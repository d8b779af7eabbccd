#include "plugins/backend_pcie/transfer_split.hpp"

namespace nvmfd::plugins::pcie {

uint64_t max_transfer_bytes(uint8_t mdts, uint32_t min_page_size) {
    if (mdts == 0 || mdts >= 32) return 0;  // no limit (32 and above cannot be meant: 16 TiB pieces)
    return uint64_t(min_page_size) << mdts;
}

uint64_t piece_bytes(uint64_t max, uint32_t block_size) { return max == 0 ? 0 : max / block_size * block_size; }

size_t piece_count(uint64_t bytes, uint64_t piece) {
    if (bytes == 0) return 0;
    return piece == 0 ? 1 : size_t((bytes + piece - 1) / piece);
}

size_t slice_segments(std::span<const DmaSegment> in, uint64_t offset, uint64_t len, std::span<DmaSegment> out) {
    size_t n = 0;
    uint64_t pos = 0;  // byte position of in[i] in the transfer
    for (const DmaSegment& s : in) {
        const uint64_t end = pos + s.len;
        if (len > 0 && end > offset && pos < offset + len) {
            const uint64_t from = offset > pos ? offset - pos : 0;
            const uint64_t to = std::min(end, offset + len) - pos;
            if (n == out.size()) return 0;
            out[n++] = DmaSegment{s.iova + from, to - from};
        }
        pos = end;
    }
    uint64_t got = 0;
    for (size_t i = 0; i < n; ++i) got += out[i].len;
    return got == len ? n : 0;
}

}  // namespace nvmfd::plugins::pcie
