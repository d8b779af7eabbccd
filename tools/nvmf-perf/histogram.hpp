// Latency histogram with log-linear buckets (as HdrHistogram): 128 linear
// sub-buckets per power of two, so any recorded value is known to within
// 0.8%, in fixed memory, with O(1) recording and cheap merging across threads.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace nvmfd::perf {

class LatencyHistogram {
public:
    static constexpr unsigned kSubBucketBits = 7;
    static constexpr unsigned kMaxValueBits = 40;  // 2^40 ns is 18 minutes; longer values land in the last bucket
    static constexpr size_t kSubBuckets = size_t(1) << kSubBucketBits;
    static constexpr size_t kBuckets = (kMaxValueBits - kSubBucketBits + 1) * kSubBuckets;

    void record(uint64_t value);
    void merge(const LatencyHistogram& other);
    void reset();

    uint64_t count() const { return count_; }
    uint64_t min() const { return count_ ? min_ : 0; }
    uint64_t max() const { return max_; }
    double mean() const { return count_ ? double(sum_) / double(count_) : 0.0; }
    // The value below which `percent` of the recorded values fall, as the
    // middle of its bucket (clamped to the exact min and max).
    uint64_t percentile(double percent) const;

    static size_t bucket_index(uint64_t value);
    static uint64_t bucket_lowest(size_t index);
    static uint64_t bucket_highest(size_t index);

private:
    std::array<uint64_t, kBuckets> counts_{};
    uint64_t count_ = 0;
    uint64_t sum_ = 0;
    uint64_t min_ = UINT64_MAX;
    uint64_t max_ = 0;
};

}  // namespace nvmfd::perf
