// Which io_uring setup flags a ring asks for, and the fallback to older
// kernels: each newer flag set is tried first, and a kernel that does not
// know a flag refuses the whole set with EINVAL.
//
// The flags beyond the base set cut what a completion costs the reactor:
//  - COOP_TASKRUN: a completion does not interrupt the reactor with an IPI
//    while it runs in user space; its task work runs at the reactor's next
//    system call (the reactor makes one every loop turn), and a sleeping
//    reactor is still woken (5.19);
//  - TASKRUN_FLAG: the kernel sets IORING_SQ_TASKRUN while such work waits,
//    so that reaping knows to enter the kernel instead of seeing an empty CQ
//    (5.19);
//  - SINGLE_ISSUER: only the reactor thread submits, so the kernel skips
//    its submission lock (6.0).
// DEFER_TASKRUN is not used: with it, completions post only when the ring's
// thread calls io_uring_enter with GETEVENTS, and the ring fd no longer wakes
// a reactor sleeping in epoll_wait.
#pragma once

#include <functional>
#include <span>

namespace nvmfd::plugins::uring {

struct RingFlagSet {
    unsigned flags;
    const char* name;  // for the log: what this kernel gave us
};

// Newest first; the last entry is what every kernel with io_uring accepts.
std::span<const RingFlagSet> ring_flag_sets();

// Calls init(flags) for each set in turn until it returns something other
// than -EINVAL; returns that result, and in *used the set it came from.
int init_with_fallback(const std::function<int(unsigned flags)>& init, const RingFlagSet** used);

}  // namespace nvmfd::plugins::uring
