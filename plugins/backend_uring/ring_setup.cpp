#include "plugins/backend_uring/ring_setup.hpp"

#include <cerrno>
#include <liburing.h>

namespace nvmfd::plugins::uring {
namespace {

constexpr unsigned kBase = IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP;
constexpr unsigned kCoop = IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG;

constexpr RingFlagSet kSets[] = {
    {kBase | IORING_SETUP_SUBMIT_ALL | kCoop | IORING_SETUP_SINGLE_ISSUER, "submit-all, coop-taskrun, single-issuer"},
    {kBase | IORING_SETUP_SUBMIT_ALL | kCoop, "submit-all, coop-taskrun"},  // 5.19
    {kBase | IORING_SETUP_SUBMIT_ALL, "submit-all"},                        // 5.18
    {kBase, "basic"},
};

}  // namespace

std::span<const RingFlagSet> ring_flag_sets() { return kSets; }

int init_with_fallback(const std::function<int(unsigned flags)>& init, const RingFlagSet** used) {
    int r = -EINVAL;
    for (const RingFlagSet& set : kSets) {
        *used = &set;
        r = init(set.flags);
        if (r != -EINVAL) break;
    }
    return r;
}

}  // namespace nvmfd::plugins::uring
