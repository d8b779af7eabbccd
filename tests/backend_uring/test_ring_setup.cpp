// The ring's setup flags: newest first, and a kernel that refuses a flag
// (EINVAL) gets the next older set instead of no ring at all.
#include <cerrno>
#include <doctest/doctest.h>
#include <liburing.h>
#include <vector>

#include "plugins/backend_uring/ring_setup.hpp"

using namespace nvmfd::plugins::uring;

namespace {

// A pretend kernel that knows only the flags in `known`.
struct FakeKernel {
    unsigned known;
    std::vector<unsigned> tried;
    int operator()(unsigned flags) {
        tried.push_back(flags);
        return (flags & ~known) ? -EINVAL : 0;
    }
};

constexpr unsigned kCoop = IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG;

}  // namespace

TEST_SUITE("setup") {
TEST_CASE("a current kernel gets cooperative task work and a single issuer at the first try") {
    FakeKernel kernel{~0u, {}};
    const RingFlagSet* used = nullptr;
    CHECK(init_with_fallback(std::ref(kernel), &used) == 0);
    REQUIRE(kernel.tried.size() == 1);
    CHECK((used->flags & kCoop) == kCoop);
    CHECK((used->flags & IORING_SETUP_SINGLE_ISSUER) != 0);
    CHECK((used->flags & IORING_SETUP_DEFER_TASKRUN) == 0);  // would stop the ring fd from waking epoll
}

TEST_CASE("each missing flag falls back to the next older set") {
    const unsigned base = IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP;
    struct Case {
        unsigned known;
        unsigned expected;
    } cases[] = {
        {base | IORING_SETUP_SUBMIT_ALL | kCoop, base | IORING_SETUP_SUBMIT_ALL | kCoop},  // 5.19
        {base | IORING_SETUP_SUBMIT_ALL, base | IORING_SETUP_SUBMIT_ALL},                  // 5.18
        {base, base},
    };
    for (const Case& c : cases) {
        FakeKernel kernel{c.known, {}};
        const RingFlagSet* used = nullptr;
        CHECK(init_with_fallback(std::ref(kernel), &used) == 0);
        CHECK(used->flags == c.expected);
        CHECK(kernel.tried.back() == c.expected);
    }
}

TEST_CASE("an error other than EINVAL stops the fallback and is returned") {
    int calls = 0;
    const RingFlagSet* used = nullptr;
    CHECK(init_with_fallback([&](unsigned) { return ++calls, -ENOMEM; }, &used) == -ENOMEM);
    CHECK(calls == 1);
}

TEST_CASE("a kernel that refuses every set leaves EINVAL after trying the basic one") {
    FakeKernel kernel{0, {}};
    const RingFlagSet* used = nullptr;
    CHECK(init_with_fallback(std::ref(kernel), &used) == -EINVAL);
    CHECK(kernel.tried.size() == ring_flag_sets().size());
}

TEST_CASE("this machine's kernel accepts one of the sets") {
    io_uring ring{};
    const RingFlagSet* used = nullptr;
    int r = init_with_fallback(
        [&](unsigned flags) {
            io_uring_params p{};
            p.flags = flags;
            p.cq_entries = 64;
            return io_uring_queue_init_params(8, &ring, &p);
        },
        &used);
    if (r == -ENOSYS || r == -EPERM) {
        MESSAGE("io_uring is not available here: skipped");
        return;
    }
    REQUIRE(r == 0);
    MESSAGE("ring set up with: " << used->name);
    io_uring_queue_exit(&ring);
}
}
