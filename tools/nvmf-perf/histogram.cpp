#include "tools/nvmf-perf/histogram.hpp"

#include <algorithm>
#include <bit>
#include <cmath>

namespace nvmfd::perf {

size_t LatencyHistogram::bucket_index(uint64_t value) {
    if (value < kSubBuckets) return static_cast<size_t>(value);
    unsigned exponent = static_cast<unsigned>(std::bit_width(value)) - 1;
    if (exponent >= kMaxValueBits) return kBuckets - 1;
    unsigned shift = exponent - kSubBucketBits;
    // Each power of two above the linear range adds kSubBuckets buckets,
    // indexed by the value's top kSubBucketBits+1 bits.
    return (shift + 1) * kSubBuckets + static_cast<size_t>((value >> shift) - kSubBuckets);
}

uint64_t LatencyHistogram::bucket_lowest(size_t index) {
    if (index < kSubBuckets) return index;
    unsigned shift = static_cast<unsigned>(index / kSubBuckets) - 1;
    uint64_t mantissa = index % kSubBuckets + kSubBuckets;
    return mantissa << shift;
}

uint64_t LatencyHistogram::bucket_highest(size_t index) {
    if (index < kSubBuckets) return index;
    unsigned shift = static_cast<unsigned>(index / kSubBuckets) - 1;
    uint64_t mantissa = index % kSubBuckets + kSubBuckets;
    return ((mantissa + 1) << shift) - 1;
}

void LatencyHistogram::record(uint64_t value) {
    ++counts_[bucket_index(value)];
    ++count_;
    sum_ += value;
    min_ = std::min(min_, value);
    max_ = std::max(max_, value);
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
    for (size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
    count_ += other.count_;
    sum_ += other.sum_;
    min_ = std::min(min_, other.min_);
    max_ = std::max(max_, other.max_);
}

void LatencyHistogram::reset() { *this = LatencyHistogram{}; }

uint64_t LatencyHistogram::percentile(double percent) const {
    if (count_ == 0) return 0;
    double wanted = std::ceil(std::clamp(percent, 0.0, 100.0) / 100.0 * double(count_));
    uint64_t rank = std::max<uint64_t>(1, static_cast<uint64_t>(wanted));
    uint64_t seen = 0;
    for (size_t i = 0; i < kBuckets; ++i) {
        seen += counts_[i];
        if (seen >= rank) {
            uint64_t middle = bucket_lowest(i) + (bucket_highest(i) - bucket_lowest(i)) / 2;
            return std::clamp(middle, min_, max_);
        }
    }
    return max_;
}

}  // namespace nvmfd::perf
