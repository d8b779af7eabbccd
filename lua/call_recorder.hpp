// What a dry run reports: every control call a policy made (and the timers
// and log lines it asked for), with its arguments and its result or error,
// in order, tagged with the phase that made it ("main", "on_start", the
// event's handler or "templates.NAME"), and the calls into the script that
// failed. The bindings record into it when their context has one.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <lua.hpp>
#include <nlohmann/json.hpp>

#include "core/runtime/error.hpp"

namespace nvmfd::lua {

struct RecordedCall {
    std::string phase;
    std::string call;       // "add_namespace", "every", "log"...
    nlohmann::json args;    // the Lua arguments, as JSON
    nlohmann::json result;  // the first value returned (null when none or on error)
    std::optional<Error> error;  // a control error; other failures in error_text
    std::string error_text;
};

struct PhaseFailure {
    std::string phase;
    std::string message;  // "FILE:LINE: message"
};

class CallRecorder {
public:
    void set_phase(std::string phase) { phase_ = std::move(phase); }
    const std::string& phase() const { return phase_; }
    void add(RecordedCall c) { calls_.push_back(std::move(c)); }
    void failed(std::string message) { failures_.push_back({phase_, std::move(message)}); }
    const std::vector<RecordedCall>& calls() const { return calls_; }
    const std::vector<PhaseFailure>& failures() const { return failures_; }

private:
    std::string phase_ = "main";
    std::vector<RecordedCall> calls_;
    std::vector<PhaseFailure> failures_;
};

// Replaces the named functions of the table on top of the stack with
// wrappers that record each call into the policy's recorder, when it has
// one, and otherwise call straight through.
void record_calls_of(lua_State* L, std::initializer_list<const char*> names);

}  // namespace nvmfd::lua
