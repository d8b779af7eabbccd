// PRP lists at every alignment and MDTS splitting (issue 13, acceptance 3),
// checked by reading the PRPs back the way a drive does (the spec's rules,
// written again in tests/backend_pcie/prp_walk.hpp independently of the
// builder).
#include <doctest/doctest.h>

#include <map>
#include <vector>

#include "plugins/backend_pcie/prp.hpp"
#include "plugins/backend_pcie/transfer_split.hpp"
#include "tests/backend_pcie/prp_walk.hpp"

using namespace nvmfd::plugins::pcie;

namespace {

constexpr uint32_t kPage = 4096;

// List pages for the test: memory here, "IOVAs" in a range no data uses.
struct ListPages {
    std::vector<std::vector<uint64_t>> memory;
    std::vector<PrpListPage> pages;
    explicit ListPages(size_t n, uint32_t page = kPage) : memory(n, std::vector<uint64_t>(page / 8, 0xdeadbeef)) {
        for (size_t i = 0; i < n; ++i) pages.push_back({memory[i].data(), 0x7000'0000'0000ull + i * page});
    }
    const uint64_t* at(uint64_t iova) const {
        for (const auto& p : pages)
            if (p.iova == (iova & ~uint64_t(kPage - 1))) return p.entries + (iova & (kPage - 1)) / 8;
        FAIL("the device would read a list page that is not one: " << std::hex << iova);
        return nullptr;
    }
};

// What a drive reads for a transfer of `len` bytes: the byte ranges, in
// order (tests/backend_pcie/prp_walk.hpp, which the simulated drive uses too).
std::vector<DmaSegment> device_view(const Prp& prp, uint64_t len, const ListPages& lists, uint32_t page = kPage) {
    auto pieces = nvmfd::test::walk_prps(prp.prp1, prp.prp2, len, page, [&](uint64_t iova) { return lists.at(iova); });
    CHECK_MESSAGE(pieces, "PRPs a drive refuses");
    std::vector<DmaSegment> out;
    for (const auto& p : pieces.value_or(std::vector<DmaSegment>{})) {
        if (!out.empty() && out.back().iova + out.back().len == p.iova) out.back().len += p.len;
        else out.push_back(p);
    }
    return out;
}

std::vector<DmaSegment> merged(std::vector<DmaSegment> v) {
    std::vector<DmaSegment> out;
    for (auto s : v) {
        if (!out.empty() && out.back().iova + out.back().len == s.iova) out.back().len += s.len;
        else out.push_back(s);
    }
    return out;
}

}  // namespace

TEST_CASE("prp: one contiguous buffer at every dword offset and lengths from one dword to many pages") {
    ListPages lists(4);
    for (uint64_t offset = 0; offset < kPage; offset += 4 * 61) {  // a spread of dword offsets, page end included below
        const uint64_t page = kPage;
        for (uint64_t len : std::initializer_list<uint64_t>{4, 512, page - offset, page - offset + 4, 2 * page - offset,
                                                             2 * page, 3 * page + 8, 64 * 1024, 1 << 20, (2 << 20) + 4096}) {
            const std::vector<DmaSegment> data{{0x10'0000'0000ull + offset, len}};
            auto prp = build_prp(data, kPage, lists.pages);
            REQUIRE_MESSAGE(prp, "offset " << offset << " len " << len << ": " << prp.error().describe());
            CHECK_MESSAGE((device_view(*prp, len, lists) == data), "offset " << offset << " len " << len);
            CHECK(prp->list_pages_used <= prp_list_pages_for(len, kPage, offset));
        }
    }
    // The last dword of a page.
    const std::vector<DmaSegment> tail{{0x10'0000'0000ull + kPage - 4, 8}};
    auto prp = build_prp(tail, kPage, lists.pages);
    REQUIRE(prp);
    CHECK(prp->prp2 == 0x10'0000'1000ull);
}

TEST_CASE("prp: scattered pages (a reactor pool's iovecs), with a list that chains over several list pages") {
    // 1200 pages, every other one: three list pages of 512 entries (511 + a chain).
    std::vector<DmaSegment> data;
    for (int i = 0; i < 1200; ++i) data.push_back({0x20'0000'0000ull + uint64_t(i) * 2 * kPage, kPage});
    data.back().len = 100;  // the last piece may end anywhere
    ListPages lists(3);
    auto prp = build_prp(data, kPage, lists.pages);
    REQUIRE_MESSAGE(prp, prp.error().describe());
    CHECK(prp->list_pages_used == 3);
    uint64_t len = 0;
    for (auto& s : data) len += s.len;
    CHECK((device_view(*prp, len, lists) == merged(data)));
    // Two list pages are not enough: refused, not overrun.
    ListPages short_lists(2);
    auto refused = build_prp(data, kPage, short_lists.pages);
    REQUIRE_FALSE(refused);
    CHECK(refused.error().code == nvmfd::ErrorCode::NotSupported);
}

TEST_CASE("prp: exactly one list page full, and one entry more") {
    for (uint64_t pages : {512ull + 1, 512ull + 2}) {  // 511 or 512 entries after the first page... and 513
        ListPages lists(2);
        const std::vector<DmaSegment> data{{0x30'0000'0000ull, pages * kPage}};
        auto prp = build_prp(data, kPage, lists.pages);
        REQUIRE(prp);
        CHECK(prp->list_pages_used == (pages - 1 <= 512 ? 1u : 2u));
        CHECK((device_view(*prp, pages * kPage, lists) == data));
    }
}

TEST_CASE("prp: what PRPs cannot describe is refused, naming the data") {
    ListPages lists(2);
    const uint64_t base = 0x40'0000'0000ull;
    const std::vector<std::vector<DmaSegment>> bad{
        {},
        {{base + 2, 512}},                          // not dword aligned
        {{base, 100}, {base + kPage, kPage}},       // the first piece ends inside its page
        {{base, kPage}, {base + 2 * kPage + 8, 8}}, // a later piece starts inside its page
        {{base, kPage}, {base + 2 * kPage, 0}},     // an empty piece
    };
    for (const auto& d : bad) {
        auto r = build_prp(d, kPage, lists.pages);
        REQUIRE_FALSE(r);
        CHECK(r.error().field == "data");
        CHECK(r.error().code == nvmfd::ErrorCode::InvalidArgument);
    }
    // A first piece with an offset that ends on its page boundary is fine.
    const std::vector<DmaSegment> ok{{base + 512, kPage - 512}, {base + 4 * kPage, kPage}};
    auto r = build_prp(ok, kPage, lists.pages);
    REQUIRE(r);
    CHECK((device_view(*r, kPage - 512 + kPage, lists) == ok));
}

TEST_CASE("prp: list pages needed for the largest transfer a slot carries") {
    CHECK(prp_list_pages_for(kPage, kPage) == 0);
    CHECK(prp_list_pages_for(2 * kPage, kPage) == 0);
    CHECK(prp_list_pages_for(2 * kPage, kPage, 4) == 1);  // three pages touched
    CHECK(prp_list_pages_for(513ull * kPage, kPage) == 1);
    CHECK(prp_list_pages_for(514ull * kPage, kPage) == 2);
    CHECK(prp_list_pages_for(1ull << 30, kPage) == 513);  // 262143 entries, 511 per chained page
}

TEST_CASE("mdts: the largest transfer, whole blocks per piece, and each piece's segments") {
    CHECK(max_transfer_bytes(0, kPage) == 0);
    CHECK(max_transfer_bytes(5, kPage) == 128 * 1024);  // QEMU's emulated controller's default MDTS
    CHECK(max_transfer_bytes(7, kPage) == 512 * 1024);
    CHECK(piece_bytes(128 * 1024, 512) == 128 * 1024);
    CHECK(piece_bytes(128 * 1024, 3 * 1024) == 129024);
    CHECK(piece_bytes(0, 4096) == 0);
    CHECK(piece_count(1 << 20, 128 * 1024) == 8);
    CHECK(piece_count((1 << 20) + 512, 128 * 1024) == 9);
    CHECK(piece_count(4096, 0) == 1);

    // 1 MiB in 4 KiB pool pages, every other page; 128 KiB pieces; each piece's PRPs cover exactly its bytes.
    std::vector<DmaSegment> data;
    for (int i = 0; i < 256; ++i) data.push_back({0x50'0000'0000ull + uint64_t(i) * 2 * kPage, kPage});
    const uint64_t piece = 128 * 1024;
    std::map<uint64_t, uint64_t> seen;  // iova -> bytes, over all pieces
    for (size_t k = 0; k < piece_count(1 << 20, piece); ++k) {
        DmaSegment out[64];
        size_t n = slice_segments(data, k * piece, piece, out);
        REQUIRE(n == 32);
        ListPages lists(1);
        auto prp = build_prp(std::span(out, n), kPage, lists.pages);
        REQUIRE(prp);
        for (auto s : device_view(*prp, piece, lists)) seen[s.iova] += s.len;
    }
    uint64_t total = 0;
    for (auto [iova, n] : seen) total += n;
    CHECK(total == 1 << 20);
    CHECK(seen.size() == 256);
    // A range past the data, or an output too short, gives 0.
    DmaSegment one[1];
    CHECK(slice_segments(data, (1 << 20) - 10, 20, std::span(one, 1)) == 0);
    CHECK(slice_segments(data, 0, 3 * kPage, std::span(one, 1)) == 0);
    CHECK(slice_segments(data, 100, 200, std::span(one, 1)) == 1);
    CHECK(one[0].iova == data[0].iova + 100);
}
