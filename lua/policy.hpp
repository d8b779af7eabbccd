// One loaded policy: its Lua state (sandbox), bindings, timers, handlers
// and counters. Every call into the script (on_start, an event handler, a
// timer) runs under the limits; a failure is logged at error level and
// reported through the error callback, and the policy stays loaded.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "core/control/control.hpp"
#include "core/control/policy_service.hpp"
#include <nlohmann/json.hpp>

#include "lua/bindings.hpp"
#include "lua/call_recorder.hpp"
#include "lua/limits.hpp"
#include "lua/sandbox.hpp"
#include "lua/peer_watch.hpp"
#include "lua/probes.hpp"
#include "lua/timers.hpp"

namespace nvmfd::lua {

struct PolicyError {
    std::string policy;
    std::string handler;  // "on_start", "on_ana_change", "every 5 s timer", "load"
    std::string message;  // "FILE:LINE: message"
};
using ErrorCallback = std::function<void(const PolicyError&)>;

// What every policy of a daemon shares.
struct PolicyEnvironment {
    boost::asio::io_context& io;
    control::Control& control;
    PolicyLimits limits;
    ErrorCallback on_error;  // may be empty
    const bool* draining = nullptr;  // the manager's drain flag (nvmfd.draining())
};

class Policy {
public:
    // Compiles the source and runs its main chunk. A syntax error or an
    // error in the main chunk refuses the policy: InvalidArgument, message
    // "FILE:LINE: ...", field "source".
    // With a recorder the policy is a dry run's: its calls are recorded
    // there (its control is then a scratch copy), its failures too instead of
    // being logged and reported.
    static Result<std::unique_ptr<Policy>> load(const control::PolicySpec& spec, const PolicyEnvironment& env,
                                                CallRecorder* recorder = nullptr);
    Policy(const Policy&) = delete;
    Policy& operator=(const Policy&) = delete;

    const control::PolicySpec& spec() const { return spec_; }
    void start();  // on_start(), if the script defines it
    bool handles(std::string_view handler) const;
    // Calls the global function `handler` with one argument (pushed by
    // push_arg), if the script defines it.
    void call(const std::string& handler, const std::function<void(lua_State*)>& push_arg);
    // The same for a handler whose results matter: `receive` reads them
    // (and may raise a Lua error). False when the handler is not defined or
    // the call failed (logged, counted and reported as for call()).
    bool ask(const std::string& handler, const std::function<void(lua_State*)>& push_arg,
             const Sandbox::Receiver& receive);
    control::PolicyInfo info() const;

    // Provisioning templates: the functions of the script's global table
    // `templates` when its main chunk ended.
    const std::vector<std::string>& templates() const { return templates_; }
    // Calls templates[name](args) (push_args pushes the args table) and
    // returns what it returned, as JSON. A typed error it raises (a
    // control call's, or nvmfd.error's) comes back as that error (the
    // caller's mistake: not counted, logged or reported as the policy's);
    // any other failure is reported like a handler's (log, error callback)
    // and returned as Internal, field "template".
    Result<nlohmann::json> run_template(const std::string& name, const std::function<void(lua_State*)>& push_args);

private:
    Policy(const control::PolicySpec& spec, const PolicyEnvironment& env);
    void find_handlers(lua_State* L);
    void find_templates(lua_State* L);
    // False when the call failed (reported already, unless a dry run's or a
    // template's typed error: the caller reports those).
    bool run(const std::string& what, const Sandbox::Pusher& push, const Sandbox::Receiver& receive = {});
    Sandbox::Pusher push_handler(const std::string& handler, const std::function<void(lua_State*)>& push_arg);
    void fire_timer(int ref, const std::string& what);
    void fire_probe(int ref, const ProbeResult& result, const std::string& what);
    void peer_changed(const PeerChange& c);  // on_peer_change

    control::PolicySpec spec_;
    PolicyEnvironment env_;
    BindingContext context_;             // outlives the state that points at it
    std::unique_ptr<Sandbox> sandbox_;
    std::unique_ptr<Timers> timers_;     // goes first: releases its references in the state
    std::unique_ptr<Probes> probes_;     // likewise
    std::unique_ptr<PeerWatches> watches_;
    std::vector<std::string> handlers_;
    std::vector<std::string> templates_;
    uint64_t calls_ = 0;
    uint64_t errors_ = 0;
    std::string last_error_;
};

}  // namespace nvmfd::lua
