// One Lua state with the sandbox's limits: a memory cap (a custom
// allocator), an instruction budget (a count hook) and a wall-time budget
// per call (checked by the hook and by the allocator, so that C functions
// that allocate are bounded too). Only the libraries the sandbox allows are
// opened (see sandbox_libs.hpp).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <lua.hpp>

#include "core/runtime/error.hpp"
#include "lua/limits.hpp"

namespace nvmfd::lua {

struct StateCloser {
    void operator()(lua_State* L) const { lua_close(L); }
};
using StatePtr = std::unique_ptr<lua_State, StateCloser>;

class Sandbox {
public:
    // name: the policy's, for log lines (print) and messages.
    static Result<std::unique_ptr<Sandbox>> create(const std::string& name, const PolicyLimits& limits);
    ~Sandbox();
    Sandbox(const Sandbox&) = delete;
    Sandbox& operator=(const Sandbox&) = delete;

    lua_State* state() const { return state_.get(); }
    // Pushes a function and its arguments; returns the number of arguments.
    using Pusher = std::function<int(lua_State*)>;
    // Runs push, then the function it pushed, protected and under this
    // call's budget (pushing allocates too). Returns the error as
    // "FILE:LINE: message".
    std::optional<std::string> call(const Pusher& push);
    // The same, and `receive` reads what the function returned (the values
    // are on the stack, `count` of them) inside the protected call, under
    // the same budget: it may raise a Lua error, which is then the call's.
    using Receiver = std::function<void(lua_State*, int count)>;
    std::optional<std::string> call(const Pusher& push, const Receiver& receive);
    // When the last failed call's error value was a typed error table (a
    // control call's or nvmfd.error's): that error.
    const std::optional<Error>& typed_error() const { return budget_.typed_error; }
    // Runs fn protected but outside any call budget (the engine's own
    // bookkeeping on the state); a Lua error (out of memory) is returned.
    std::optional<std::string> protect(const std::function<void(lua_State*)>& fn);
    // A Pusher's helper: compiles text (never a binary chunk) and pushes the
    // chunk, or raises its syntax error ("FILE:LINE: message").
    static void push_chunk(lua_State* L, std::string_view source, const std::string& file);
    size_t memory_bytes() const { return budget_.used; }
    const PolicyLimits& limits() const { return budget_.limits; }

    enum class Stop { None, Instructions, Time };
    struct Budget {
        PolicyLimits limits;
        lua_State* state = nullptr;
        size_t used = 0;
        bool armed = false;  // a call is running: instructions and time count
        uint64_t instructions = 0;
        std::chrono::steady_clock::time_point deadline;
        Stop stop = Stop::None;  // sticky for the rest of the call, so pcall cannot swallow it
        // The failed call's error as a typed error, when it was one: the
        // message handler finds it here (through the allocator's user data,
        // so that it is a plain C function: pushing a closure could fail).
        std::optional<Error> typed_error;
    };

    // While one lives, time does not count against the running call's time
    // budget: nvmfd's own work on a script's behalf (a binding's Control
    // call: validation, the state file's fsync, publishing to every
    // reactor). The budget stops runaway scripts; a slow disk or a loaded
    // machine must not fail a policy that did nothing wrong.
    class NativeTime {
    public:
        explicit NativeTime(lua_State* L);
        ~NativeTime();
        NativeTime(const NativeTime&) = delete;
        NativeTime& operator=(const NativeTime&) = delete;

    private:
        Budget* budget_;
        std::chrono::steady_clock::time_point start_;
    };

private:
    explicit Sandbox(const PolicyLimits& limits) { budget_.limits = limits; }
    std::string stop_message(Stop stop) const;
    void arm();

    Budget budget_;  // the allocator's user data: declared before the state it serves
    StatePtr state_;
};

}  // namespace nvmfd::lua
