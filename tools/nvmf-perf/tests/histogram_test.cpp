// The log-linear histogram: bucket layout, precision, percentiles, merge.
#include <doctest/doctest.h>
#include <random>

#include "tools/nvmf-perf/histogram.hpp"

using nvmfd::perf::LatencyHistogram;

TEST_CASE("buckets are contiguous and cover every value once") {
    CHECK(LatencyHistogram::bucket_index(0) == 0);
    CHECK(LatencyHistogram::bucket_index(127) == 127);
    CHECK(LatencyHistogram::bucket_index(128) == 128);
    CHECK(LatencyHistogram::bucket_index(255) == 255);
    CHECK(LatencyHistogram::bucket_index(256) == 256);
    CHECK(LatencyHistogram::bucket_index(257) == 256);  // 2-wide buckets from 256
    for (size_t i = 0; i + 1 < LatencyHistogram::kBuckets; ++i) {
        CHECK(LatencyHistogram::bucket_highest(i) + 1 == LatencyHistogram::bucket_lowest(i + 1));
        CHECK(LatencyHistogram::bucket_index(LatencyHistogram::bucket_lowest(i)) == i);
        CHECK(LatencyHistogram::bucket_index(LatencyHistogram::bucket_highest(i)) == i);
    }
    CHECK(LatencyHistogram::bucket_index(UINT64_MAX) == LatencyHistogram::kBuckets - 1);
}

TEST_CASE("relative bucket width stays below 1%") {
    for (size_t i = LatencyHistogram::kSubBuckets; i < LatencyHistogram::kBuckets; ++i) {
        double low = double(LatencyHistogram::bucket_lowest(i));
        double width = double(LatencyHistogram::bucket_highest(i)) - low + 1;
        CHECK(width / low <= 1.0 / 128 + 1e-12);
    }
}

TEST_CASE("percentiles, mean, min, max") {
    LatencyHistogram h;
    CHECK(h.percentile(50) == 0);
    for (uint64_t v = 1; v <= 10000; ++v) h.record(v * 1000);  // 1..10000 us in ns
    CHECK(h.count() == 10000);
    CHECK(h.min() == 1000);
    CHECK(h.max() == 10'000'000);
    CHECK(h.mean() == doctest::Approx(5'000'500.0));
    auto near = [](uint64_t got, double want) { return std::abs(double(got) - want) / want < 0.01; };
    CHECK(near(h.percentile(50), 5'000'000));
    CHECK(near(h.percentile(99), 9'900'000));
    CHECK(near(h.percentile(99.9), 9'990'000));
    CHECK(h.percentile(100) <= h.max());
    CHECK(h.percentile(0) >= h.min());
}

TEST_CASE("merge equals recording everything in one histogram") {
    LatencyHistogram a, b, all;
    std::mt19937_64 rng(3);
    for (int i = 0; i < 20000; ++i) {
        uint64_t v = rng() % 5'000'000;
        (i % 2 ? a : b).record(v);
        all.record(v);
    }
    a.merge(b);
    CHECK(a.count() == all.count());
    CHECK(a.min() == all.min());
    CHECK(a.max() == all.max());
    CHECK(a.mean() == doctest::Approx(all.mean()));
    for (double p : {1.0, 50.0, 90.0, 99.0, 99.99}) CHECK(a.percentile(p) == all.percentile(p));
    a.reset();
    CHECK(a.count() == 0);
}
