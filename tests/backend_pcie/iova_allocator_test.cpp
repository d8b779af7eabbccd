// IOVAs for DMA mappings (issue 13): inside the IOMMU's usable ranges,
// never below 64 KiB, congruent to the memory's address modulo 2 MiB,
// reused and merged when freed.
#include <doctest/doctest.h>

#include "plugins/backend_pcie/iova_allocator.hpp"

using nvmfd::plugins::pcie::IovaAllocator;
using nvmfd::plugins::pcie::IovaRange;

namespace {
constexpr uint64_t k2M = 2ull << 20;
}

TEST_CASE("iova: blocks inside the usable ranges, above 64 KiB, congruent to their memory modulo 2 MiB") {
    // VT-d with 39 address bits, minus the x86 MSI window, as VFIO reports it.
    IovaAllocator a({{0, 0xfedfffff}, {0xfef00000, (1ull << 39) - 1}});
    const uint64_t vaddr = 0x7f12'3456'7000ull;  // a typical mmap address
    auto x = a.allocate(64ull << 20, vaddr);
    REQUIRE(x);
    CHECK(*x >= IovaAllocator::kLowest);
    CHECK(*x % k2M == vaddr % k2M);
    CHECK(*x + (64ull << 20) <= 0xfee00000);
    auto y = a.allocate(4096, 0x5555'0000'0000ull);  // 2 MiB aligned memory
    REQUIRE(y);
    CHECK(*y % k2M == 0);
    CHECK((*y >= *x + (64ull << 20) || *y + 4096 <= *x));
    // Nothing in the MSI window, nothing at 39 bits or above.
    for (int i = 0; i < 200; ++i) {
        auto z = a.allocate(8ull << 20, uint64_t(i) * 4096);
        REQUIRE(z);
        CHECK((*z + (8ull << 20) <= 0xfee00000 || *z >= 0xfef00000));
        CHECK(*z + (8ull << 20) <= (1ull << 39));
    }
}

TEST_CASE("iova: a block that fits nowhere is refused; freed blocks merge and are used again") {
    IovaAllocator a({{0, (64ull << 20) - 1}});  // 64 MiB, of which 64 KiB are never used
    const uint64_t before = a.free_bytes();
    CHECK(before == (64ull << 20) - 0x10000);
    CHECK_FALSE(a.allocate(64ull << 20, 0));
    CHECK_FALSE(a.allocate(100, 0));  // not whole pages
    auto p = a.allocate(16ull << 20, 0);
    auto q = a.allocate(16ull << 20, 0);
    auto r = a.allocate(16ull << 20, 0);
    REQUIRE((p && q && r));
    CHECK_FALSE(a.allocate(16ull << 20, 0));  // the rest is smaller (the first 2 MiB hold only 64 KiB..2 MiB)
    a.release(*q, 16ull << 20);
    a.release(*p, 16ull << 20);
    a.release(*r, 16ull << 20);
    CHECK(a.free_bytes() == before);
    auto big = a.allocate(60ull << 20, 0);  // only possible if the freed blocks merged again
    REQUIRE(big);
}
