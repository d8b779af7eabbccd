#include <doctest/doctest.h>

#include <vector>

#include "core/runtime/buffer_pool.hpp"

using nvmfd::runtime::BufferPool;

namespace {
size_t total(std::span<const iovec> v) {
    size_t n = 0;
    for (auto& x : v) n += x.iov_len;
    return n;
}
}  // namespace

TEST_CASE("allocations cover the length, page aligned, merged where adjacent") {
    BufferPool pool(64 * 4096);
    std::vector<iovec> iov(64);
    size_t n = pool.allocate(3 * 4096 + 100, iov);
    REQUIRE(n >= 1);
    CHECK(total(std::span(iov.data(), n)) == 3 * 4096 + 100);
    for (size_t i = 0; i < n; ++i) CHECK(reinterpret_cast<uintptr_t>(iov[i].iov_base) % 4096 == 0);
    CHECK(n == 1);  // a fresh pool hands out contiguous pages
    CHECK(pool.free_pages() == 60);
    pool.release(std::span(iov.data(), n));
    CHECK(pool.free_pages() == 64);
}

TEST_CASE("an exhausted pool takes nothing and wakes waiters when pages return") {
    BufferPool pool(4 * 4096);
    std::vector<iovec> a(8), b(8);
    size_t na = pool.allocate(3 * 4096, a);
    REQUIRE(na > 0);
    CHECK(pool.allocate(2 * 4096, b) == 0);
    CHECK(pool.free_pages() == 1);

    struct W : BufferPool::Waiter {
        BufferPool* pool;
        std::vector<iovec>* out;
        size_t got = 0;
        int calls = 0;
        void on_buffers_available() override {
            ++calls;
            got = pool->allocate(2 * 4096, *out);
        }
    } w;
    w.pool = &pool;
    w.out = &b;
    pool.wait(w);
    pool.release(std::span(a.data(), na));
    CHECK(w.calls == 1);
    CHECK(w.got > 0);
    CHECK(pool.free_pages() == 2);
}

TEST_CASE("too few iovec slots for a fragmented request takes nothing") {
    BufferPool pool(8 * 4096);
    std::vector<iovec> singles(8);
    // Fragment the pool: take all pages one by one, give back every other one.
    std::vector<iovec> held;
    for (int i = 0; i < 8; ++i) {
        iovec v;
        REQUIRE(pool.allocate(4096, std::span(&v, 1)) == 1);
        held.push_back(v);
    }
    for (int i = 0; i < 8; i += 2) pool.release(std::span(&held[i], 1));
    std::vector<iovec> two(2);
    CHECK(pool.allocate(4 * 4096, two) == 0);
    CHECK(pool.free_pages() == 4);
}

TEST_CASE("the region covers every page the pool hands out, and nothing else") {
    BufferPool pool(8 * 4096 + 1);  // rounded up to whole pages
    std::span<std::byte> region = pool.region();
    REQUIRE(region.size() == 9 * 4096);
    CHECK(reinterpret_cast<uintptr_t>(region.data()) % 4096 == 0);
    CHECK(pool.owns(region.data()));
    CHECK(pool.owns(region.data() + region.size() - 1));
    CHECK_FALSE(pool.owns(region.data() + region.size()));

    // Every page lies inside the region: one registration covers whatever a
    // command gets.
    std::vector<iovec> iov(9);
    REQUIRE(pool.allocate(9 * 4096, iov) > 0);
    for (const iovec& v : iov) {
        if (!v.iov_len) continue;
        auto* b = static_cast<std::byte*>(v.iov_base);
        CHECK(b >= region.data());
        CHECK(b + v.iov_len <= region.data() + region.size());
    }
    auto* zero = static_cast<std::byte*>(BufferPool::zero_page());
    CHECK((zero < region.data() || zero >= region.data() + region.size()));
}
