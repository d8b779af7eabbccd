// Splitting a command's data into RDMA work requests, and the slot state table.
#include <doctest/doctest.h>

#include <array>
#include <cstddef>
#include <vector>

#include "plugins/transport_rdma/rdma_slot_state.hpp"
#include "plugins/transport_rdma/rdma_wr_plan.hpp"

using namespace nvmfd::plugins::rdma;

namespace {

alignas(4096) std::byte pool[64 * 4096];
alignas(4096) std::byte zero[4096];
std::byte elsewhere[4096];

std::array<MemoryRegion, 2> regions() {
    return {MemoryRegion{pool, sizeof pool, 0x11, reinterpret_cast<uint64_t>(pool)},
            MemoryRegion{zero, sizeof zero, 0x22, 0xabc000}};
}

iovec page(unsigned i, size_t len = 4096) { return iovec{pool + i * 4096, len}; }

}  // namespace

TEST_CASE("rdma wr plan: pieces become scatter entries, max_sge per work request, remote offsets run on") {
    std::vector<iovec> iov;
    for (unsigned i = 0; i < 5; ++i) iov.push_back(page(2 * i));  // not adjacent: 5 pieces
    std::vector<LocalSge> sges;
    std::vector<WrChunk> chunks;
    auto r = regions();
    REQUIRE(plan_transfer(iov, 5 * 4096, 2, r, sges, chunks));
    REQUIRE(sges.size() == 5);
    REQUIRE(chunks.size() == 3);
    CHECK(chunks[0].first_sge == 0);
    CHECK(chunks[0].sge_count == 2);
    CHECK(chunks[0].remote_offset == 0);
    CHECK(chunks[0].length == 8192);
    CHECK(chunks[1].first_sge == 2);
    CHECK(chunks[1].remote_offset == 8192);
    CHECK(chunks[2].sge_count == 1);
    CHECK(chunks[2].remote_offset == 16384);
    CHECK(chunks[2].length == 4096);
    CHECK(sges[3].addr == reinterpret_cast<uint64_t>(pool + 6 * 4096));
    CHECK(sges[3].lkey == 0x11);
}

TEST_CASE("rdma wr plan: length shorter than the iovecs clips the last piece; longer fails") {
    std::vector<iovec> iov{page(0, 8192), page(4)};
    std::vector<LocalSge> sges;
    std::vector<WrChunk> chunks;
    auto r = regions();
    REQUIRE(plan_transfer(iov, 8192 + 512, 32, r, sges, chunks));
    REQUIRE(sges.size() == 2);
    CHECK(sges[1].length == 512);
    CHECK(chunks.size() == 1);
    CHECK(chunks[0].length == 8704);
    CHECK_FALSE(plan_transfer(iov, 3 * 4096 + 1, 32, r, sges, chunks));
    CHECK(sges.empty());
    CHECK(chunks.empty());
}

TEST_CASE("rdma wr plan: the zero page maps to the lane's own page; other memory must be bounced") {
    std::vector<LocalSge> sges;
    std::vector<WrChunk> chunks;
    auto r = regions();
    std::vector<iovec> z{iovec{zero, 4096}, iovec{zero, 100}};
    REQUIRE(plan_transfer(z, 4196, 32, r, sges, chunks));
    CHECK(sges[0].addr == 0xabc000);
    CHECK(sges[1].addr == 0xabc000);
    CHECK(sges[1].lkey == 0x22);
    std::vector<iovec> lent{page(0), iovec{elsewhere, 4096}};
    CHECK_FALSE(plan_transfer(lent, 8192, 32, r, sges, chunks));
    // A piece that starts inside a region and runs on into memory no region
    // holds (pool pages 4 and 5, outside a region of the first 4).
    std::array<MemoryRegion, 1> first4{MemoryRegion{pool, 4 * 4096, 0x11, reinterpret_cast<uint64_t>(pool)}};
    std::vector<iovec> straddle{iovec{pool + 3 * 4096, 3 * 4096}};
    CHECK_FALSE(plan_transfer(straddle, 3 * 4096, 32, first4, sges, chunks));
}

TEST_CASE("rdma wr plan: a piece across two adjacent regions takes an entry in each; one running out of them fails") {
    // A namespace registered as its first 8 pages and the 8 it grew by.
    std::array<MemoryRegion, 2> grown{MemoryRegion{pool, 8 * 4096, 0x31, reinterpret_cast<uint64_t>(pool)},
                                      MemoryRegion{pool + 8 * 4096, 8 * 4096, 0x32,
                                                   reinterpret_cast<uint64_t>(pool + 8 * 4096)}};
    std::vector<iovec> iov{iovec{pool + 6 * 4096, 4 * 4096}};  // pages 6..9
    std::vector<LocalSge> sges;
    std::vector<WrChunk> chunks;
    REQUIRE(plan_transfer(iov, 4 * 4096, 32, grown, sges, chunks));
    REQUIRE(sges.size() == 2);
    CHECK(sges[0].lkey == 0x31);
    CHECK(sges[0].length == 8192);
    CHECK(sges[1].lkey == 0x32);
    CHECK(sges[1].addr == reinterpret_cast<uint64_t>(pool + 8 * 4096));
    CHECK(sges[1].length == 8192);
    REQUIRE(chunks.size() == 1);
    CHECK(chunks[0].length == 4 * 4096);
    std::vector<iovec> beyond{iovec{pool + 14 * 4096, 3 * 4096}};  // pages 14..16: 16 is in neither
    CHECK_FALSE(plan_transfer(beyond, 3 * 4096, 32, grown, sges, chunks));
    CHECK(sges.empty());
}

TEST_CASE("rdma wr plan: the send queue bound per command covers the worst 1 MiB command") {
    std::vector<iovec> iov;
    for (unsigned i = 0; i < 32; ++i) iov.push_back(page(2 * i % 64, 4096));  // 32 separate pages
    std::vector<LocalSge> sges;
    std::vector<WrChunk> chunks;
    auto r = regions();
    REQUIRE(plan_transfer(iov, 32 * 4096, 3, r, sges, chunks));
    CHECK(chunks.size() <= max_wrs_for_length(32 * 4096, 3));
    CHECK(max_wrs_for_length(1u << 20, 32) == 9);  // 257 pieces
    CHECK(max_wrs_for_length(4096, 32) == 1);
}

TEST_CASE("rdma slot states: a slot is posted and freed once") {
    using S = SlotState;
    CHECK(slot_move_allowed(S::Free, S::Executing));
    CHECK(slot_move_allowed(S::Executing, S::Sending));
    CHECK(slot_move_allowed(S::WaitingCredits, S::Reading));
    CHECK(slot_move_allowed(S::Reading, S::Executing));
    CHECK(slot_move_allowed(S::Sending, S::Free));
    CHECK_FALSE(slot_move_allowed(S::Free, S::Free));
    CHECK_FALSE(slot_move_allowed(S::Sending, S::Sending));
    CHECK_FALSE(slot_move_allowed(S::Reading, S::Reading));
    CHECK_FALSE(slot_move_allowed(S::Sending, S::Executing));
    CHECK_FALSE(slot_move_allowed(S::Free, S::Sending));
}
