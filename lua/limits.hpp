// What one Lua policy may use. Every handler call (on_start, an event, a
// timer) gets a fresh instruction and time budget; the memory cap holds for
// the policy's whole Lua state. A call that runs out gets a Lua error: the
// daemon never hangs on a script and never runs out of memory for one.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace nvmfd::lua {

struct PolicyLimits {
    size_t memory_bytes = 32u << 20;                    // the whole lua_State, per policy
    uint64_t instructions = 10'000'000;                 // Lua VM instructions per call
    std::chrono::milliseconds time_budget{500};          // wall time per call
    std::chrono::milliseconds min_timer_period{10};      // nvmfd.every / nvmfd.after
    size_t max_timers = 256;                             // active timers per policy
    size_t max_probes = 64;                              // nvmfd.probe calls in flight per policy
    size_t max_peer_watches = 64;                        // nvmfd.watch_peer watches per policy
    // Lua's pattern matcher backtracks in C, where no instruction is
    // counted: a pattern call is refused when its worst case (about
    // (subject length + 1) ^ (quantifiers + 1) steps) exceeds this.
    double max_pattern_steps = 1e8;
};

}  // namespace nvmfd::lua
