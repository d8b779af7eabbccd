// SGLs for drives that take them (issue 13): what the builder writes is
// read back the way a drive does (tests/backend_pcie/sgl_walk.hpp, the
// spec's rules written independently of the builder), for one piece, many
// pieces at odd offsets, a full list page; what cannot be described is
// refused; and when a queue prefers SGLs to PRPs.
#include <doctest/doctest.h>

#include <vector>

#include "plugins/backend_pcie/drive_commands.hpp"
#include "plugins/backend_pcie/sgl.hpp"
#include "tests/backend_pcie/sgl_walk.hpp"

using namespace nvmfd::plugins::pcie;
using nvmfd::proto::SglDescriptor;

namespace {

constexpr uint32_t kPage = 4096;
constexpr uint64_t kListIova = 0x7000'0000'0000ull;

struct ListPage {
    std::vector<uint64_t> memory = std::vector<uint64_t>(kPage / 8, 0xdeadbeefdeadbeefull);
    PrpListPage page{memory.data(), kListIova};
    const SglDescriptor* at(uint64_t iova, uint64_t bytes) const {
        if (iova < kListIova || iova + bytes > kListIova + kPage) return nullptr;
        return reinterpret_cast<const SglDescriptor*>(reinterpret_cast<const char*>(memory.data()) + (iova - kListIova));
    }
};

// What a drive reads: the pieces, or an empty list with its status.
nvmfd::test::SglWalk device_view(const SglDescriptor& dptr, uint64_t len, const ListPage& list) {
    return nvmfd::test::walk_sgl(dptr, len, [&](uint64_t iova, uint64_t n) { return list.at(iova, n); });
}

uint64_t total(const std::vector<DmaSegment>& v) {
    uint64_t n = 0;
    for (const auto& s : v) n += s.len;
    return n;
}

}  // namespace

TEST_CASE("sgl: the drive's SGLS field") {
    CHECK(sgl_support(0) == SglSupport::None);
    CHECK(sgl_support(1) == SglSupport::Any);
    CHECK(sgl_support(0x00100001) == SglSupport::Any);  // other bits (offsets, bit bucket) change nothing here
    CHECK(sgl_support(2) == SglSupport::DwordAligned);
    CHECK(sgl_support(3) == SglSupport::None);  // reserved
}

TEST_CASE("sgl: one piece is one Data Block in the command, at any byte offset and length") {
    ListPage list;
    for (uint64_t offset : {0ull, 1ull, 3ull, 512ull, 4095ull})
        for (uint64_t len : {1ull, 4ull, 4096ull, 131072ull + 5, 1ull << 20}) {
            const std::vector<DmaSegment> data{{0x1'0000'0000ull + offset, len}};
            auto d = build_sgl(data, SglSupport::Any, list.page, kPage);
            REQUIRE(d);
            CHECK(d->type == sgl_type::kDataBlock);
            auto seen = device_view(*d, len, list);
            CHECK(seen.status == 0);
            CHECK((seen.data == data));
        }
}

TEST_CASE("sgl: many pieces, starting and ending anywhere (which PRPs cannot describe), as a Last Segment list") {
    ListPage list;
    std::vector<DmaSegment> data;
    for (uint64_t i = 0; i < 40; ++i) data.push_back({0x1'0000'0000ull + i * 0x10000 + i * 7, 100 + i * 333});
    auto d = build_sgl(data, SglSupport::Any, list.page, kPage);
    REQUIRE(d);
    CHECK(d->type == sgl_type::kLastSegment);
    CHECK(d->address == kListIova);
    CHECK(d->length == 40 * 16);
    auto seen = device_view(*d, total(data), list);
    CHECK(seen.status == 0);
    CHECK((seen.data == data));
    // The drive checks the length: one byte more or less than the data is refused.
    CHECK(device_view(*d, total(data) + 1, list).status == 0x0f);
    CHECK(device_view(*d, total(data) - 1, list).status == 0x0f);
}

TEST_CASE("sgl: a list page full of descriptors, and one piece more is left to PRPs") {
    ListPage list;
    std::vector<DmaSegment> data;
    for (uint64_t i = 0; i < kPage / 16; ++i) data.push_back({0x1'0000'0000ull + i * 2 * kPage, kPage});
    auto d = build_sgl(data, SglSupport::Any, list.page, kPage);
    REQUIRE(d);
    auto seen = device_view(*d, total(data), list);
    CHECK(seen.status == 0);
    CHECK((seen.data == data));
    data.push_back({0x2'0000'0000ull, kPage});
    auto over = build_sgl(data, SglSupport::Any, list.page, kPage);
    REQUIRE_FALSE(over);
    CHECK(over.error().code == nvmfd::ErrorCode::NotSupported);
}

TEST_CASE("sgl: what an SGL cannot describe is refused, naming the data") {
    ListPage list;
    const std::vector<DmaSegment> odd{{0x1000, 4096}, {0x3001, 10}};
    CHECK(build_sgl(odd, SglSupport::Any, list.page, kPage));
    auto dword = build_sgl(odd, SglSupport::DwordAligned, list.page, kPage);  // the drive wants whole dwords
    REQUIRE_FALSE(dword);
    CHECK(dword.error().field == "data");
    CHECK(build_sgl(std::vector<DmaSegment>{{0x1000, 4096}, {0x3000, 12}}, SglSupport::DwordAligned, list.page, kPage));
    CHECK_FALSE(build_sgl(std::vector<DmaSegment>{}, SglSupport::Any, list.page, kPage));
    CHECK_FALSE(build_sgl(std::vector<DmaSegment>{{0x1000, 0}}, SglSupport::Any, list.page, kPage));
    CHECK_FALSE(build_sgl(std::vector<DmaSegment>{{0x1000, 1ull << 32}}, SglSupport::Any, list.page, kPage));
    auto none = build_sgl(std::vector<DmaSegment>{{0x1000, 4096}}, SglSupport::None, list.page, kPage);
    REQUIRE_FALSE(none);
    CHECK(none.error().code == nvmfd::ErrorCode::NotSupported);
}

TEST_CASE("sgl: PSDT 01 in the command, cleared again by PRPs") {
    nvmfd::proto::Sqe sqe = read_write(nvmfd::proto::IoOpcode::Read, 1, 0, 8, false);
    const SglDescriptor d{0x1234'5000, 4096, {0, 0, 0}, sgl_type::kDataBlock};
    set_sgl(sqe, d);
    CHECK(sqe.psdt() == 1);
    CHECK(sqe.sgl.address == 0x1234'5000);
    CHECK(sqe.sgl.length == 4096);
    CHECK(sqe.fused() == 0);
    set_prp(sqe, 0x1000, 0x2000);
    CHECK(sqe.psdt() == 0);
}

TEST_CASE("sgl: when a queue prefers an SGL") {
    const std::vector<DmaSegment> small{{0x1000, 4096}, {0x3000, 4096}};
    const std::vector<DmaSegment> large{{0x10000, 65536}, {0x30000, 4096}};  // 34 KiB on average
    CHECK_FALSE(prefer_sgl(SglPolicy::Never, large));
    CHECK_FALSE(prefer_sgl(SglPolicy::Large, small));
    CHECK(prefer_sgl(SglPolicy::Large, large));
    CHECK(prefer_sgl(SglPolicy::Large, std::vector<DmaSegment>{{0x1000, kSglThreshold}}));
    CHECK_FALSE(prefer_sgl(SglPolicy::Large, std::vector<DmaSegment>{{0x1000, kSglThreshold - 1}}));
    CHECK(prefer_sgl(SglPolicy::Always, small));
}
