#include "lua/dry_run.hpp"

#include <optional>

#include "lua/admission.hpp"

#include <algorithm>
#include <fmt/ranges.h>

#include "core/control/scratch_control.hpp"
#include "core/runtime/log.hpp"
#include "lua/call_recorder.hpp"
#include "lua/events.hpp"
#include "lua/json_to_lua.hpp"

namespace nvmfd::lua {
namespace {

constexpr std::string_view kTemplatePrefix = "templates.";

bool is_handler(std::string_view event) {
    return std::find(kHandlerNames.begin(), kHandlerNames.end(), event) != kHandlerNames.end();
}

Result<nlohmann::json> parse_args(const std::string& text) {
    if (text.empty()) return nlohmann::json::object();
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
        return make_error(ErrorCode::InvalidArgument, fmt::format("not valid JSON: {}", e.what()), "args");
    }
    if (!j.is_object()) return make_error(ErrorCode::InvalidArgument, "must be a JSON object", "args");
    return j;
}

nlohmann::json call_json(const RecordedCall& c) {
    nlohmann::json j{{"phase", c.phase}, {"call", c.call}, {"args", c.args}, {"result", c.result}};
    if (c.error)
        j["error"] = {{"name", error_code_name(c.error->code)}, {"message", c.error->message}, {"field", c.error->field}};
    else if (!c.error_text.empty())
        j["error"] = {{"name", ""}, {"message", c.error_text}, {"field", ""}};
    return j;
}

nlohmann::json report(const control::PolicyTest& test, const nlohmann::json& args, const CallRecorder& rec,
                      const std::vector<std::string>& handlers) {
    nlohmann::json calls = nlohmann::json::array(), timers = nlohmann::json::array(),
                   failures = nlohmann::json::array();
    for (const auto& c : rec.calls()) {
        calls.push_back(call_json(c));
        if ((c.call == "every" || c.call == "after") && !c.error && c.error_text.empty())
            timers.push_back({{"phase", c.phase}, {"call", c.call}, {"seconds", c.args.empty() ? nullptr : c.args[0]}});
    }
    for (const auto& f : rec.failures()) failures.push_back({{"phase", f.phase}, {"message", f.message}});
    return {{"file", test.file},     {"params", test.params}, {"event", test.event},   {"args", args},
            {"handlers", handlers}, {"calls", calls},        {"timers", timers}, {"failures", failures}};
}

}  // namespace

Result<nlohmann::json> dry_run(const control::PolicyTest& test, const PolicyEnvironment& env) {
    log::DemoteScope quiet("policy test (dry run): ");
    std::string event = test.event.empty() ? "on_start" : test.event;
    bool is_template = event.starts_with(kTemplatePrefix) && event.size() > kTemplatePrefix.size();
    if (!is_template && !is_handler(event))
        return make_error(ErrorCode::InvalidArgument,
                          fmt::format("'{}' is neither an event handler ({}) nor templates.NAME", event,
                                      fmt::join(kHandlerNames, ", ")),
                          "event");
    auto args = parse_args(test.args_json);
    if (!args) return nvmfd::unexpected(args.error());
    auto scratch = env.control.dry_run_copy();
    if (!scratch) return nvmfd::unexpected(scratch.error());
    // nvmfd.draining() in the dry run: false, and true from an on_drain event on.
    bool draining = false;
    PolicyEnvironment scratch_env{env.io, (*scratch)->control(), env.limits, {}, &draining};

    CallRecorder rec;
    control::PolicySpec spec{"dry-run", test.source, test.file, test.params};
    rec.set_phase("main");
    auto loaded = Policy::load(spec, scratch_env, &rec);
    if (!loaded) {
        // Refused at load: what a real load would answer.
        rec.failed(loaded.error().message);
        return report(test, *args, rec, {});
    }
    Policy& policy = **loaded;
    rec.set_phase("on_start");
    policy.start();

    nlohmann::json out;
    if (is_template) {
        std::string name = event.substr(kTemplatePrefix.size());
        const auto& known = policy.templates();
        if (std::find(known.begin(), known.end(), name) == known.end())
            return make_error(ErrorCode::NotFound,
                              fmt::format("the policy has no template '{}' (it has: {})", name,
                                          known.empty() ? "none" : fmt::format("{}", fmt::join(known, ", "))),
                              "event");
        rec.set_phase(event);
        auto result = policy.run_template(name, [&](lua_State* L) { push_json(L, *args); });
        out = report(test, *args, rec, policy.info().handlers);
        if (result) out["result"] = *result;
        else out["error"] = {{"name", error_code_name(result.error().code)}, {"message", result.error().message},
                             {"field", result.error().field}};
    } else {
        std::optional<ScriptVerdict> verdict;
        if (event == kAdmissionHandler && policy.handles(event)) {
            // A question, not an event: its answer is what a dry run shows.
            rec.set_phase(event);
            ScriptVerdict said;
            if (policy.ask(event, [&](lua_State* L) { push_json(L, *args); },
                           [&said](lua_State* L, int count) { read_admission_results(L, count, said); }))
                verdict = said;
        } else if (event != "on_start") {
            rec.set_phase(event);
            draining = event == "on_drain";
            policy.call(event, [&](lua_State* L) { push_json(L, *args); });
        }
        out = report(test, *args, rec, policy.info().handlers);
        if (verdict) out["result"] = {{"allow", verdict->allow}, {"reason", verdict->reason}};
        // Said plainly: a handler the script lacks is not an error, but
        // testing it shows nothing.
        out["ran"] = policy.handles(event);
    }
    return out;
}

}  // namespace nvmfd::lua
