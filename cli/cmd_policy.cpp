// nvmfctl policy load|unload|list|show: Lua policies (docs/lua-api.md). The
// script is read here and sent as text, so the daemon (sandboxed by
// systemd) needs no access to the admin's files.
#include <filesystem>
#include <iostream>

#include <fmt/format.h>

#include "cli/command.hpp"
#include "cli/files.hpp"
#include "cli/output.hpp"

namespace nvmfd::cli {
namespace {

using Record = sdbus::Struct<std::string, std::string, std::map<std::string, std::string>, std::vector<std::string>,
                             uint64_t, uint64_t, std::string, uint64_t>;

struct PolicyView {
    std::string name, file;
    std::map<std::string, std::string> params;
    std::vector<std::string> handlers;
    uint64_t calls = 0, errors = 0;
    std::string last_error;
    uint64_t memory = 0;
};

PolicyView view(const Record& r) {
    return {std::get<0>(r), std::get<1>(r), std::get<2>(r), std::get<3>(r),
            std::get<4>(r), std::get<5>(r), std::get<6>(r), std::get<7>(r)};
}

nlohmann::json to_json(const PolicyView& p) {
    return {{"name", p.name},     {"file", p.file},         {"params", p.params},
            {"handlers", p.handlers}, {"calls", p.calls}, {"errors", p.errors},
            {"last_error", p.last_error}, {"memory_bytes", p.memory}};
}

int load(Context& ctx, const ParsedArgs& a) {
    const std::string& file = a.arg(0);
    std::string source = read_file(file);
    std::string name = a.value("name").value_or(std::filesystem::path(file).stem().string());
    if (name.empty()) throw UsageError("give the policy a name with --name");
    std::string label = file == "-" ? "<stdin>" : std::filesystem::absolute(file).string();
    auto params = a.key_values("param");
    ctx.client.call([&](ManagerProxy& m) { m.LoadPolicy(name, source, label, params); });
    done(ctx, fmt::format("policy {} loaded from {}", name, file), {{"name", name}, {"file", label}});
    return 0;
}

int unload(Context& ctx, const ParsedArgs& a) {
    ctx.client.call([&](ManagerProxy& m) { m.UnloadPolicy(a.arg(0)); });
    done(ctx, fmt::format("policy {} unloaded", a.arg(0)), {{"name", a.arg(0)}});
    return 0;
}

int list(Context& ctx, const ParsedArgs&) {
    auto records = ctx.client.call([](ManagerProxy& m) { return m.ListPolicies(); });
    if (ctx.json) {
        nlohmann::json out = nlohmann::json::array();
        for (const auto& r : records) out.push_back(to_json(view(r)));
        print_json(out);
        return 0;
    }
    if (records.empty()) {
        print_line("no policies loaded");
        return 0;
    }
    Table t({"NAME", "HANDLERS", "CALLS", "ERRORS", "FILE"});
    for (const auto& r : records) {
        PolicyView p = view(r);
        t.add({p.name, join(p.handlers), std::to_string(p.calls), std::to_string(p.errors), p.file});
    }
    print(t);
    return 0;
}

int show(Context& ctx, const ParsedArgs& a) {
    auto [record, source] = ctx.client.call([&](ManagerProxy& m) { return m.ShowPolicy(a.arg(0)); });
    PolicyView p = view(record);
    if (ctx.json) {
        nlohmann::json j = to_json(p);
        j["source"] = source;
        print_json(j);
        return 0;
    }
    std::vector<std::string> params;
    for (const auto& [k, v] : p.params) params.push_back(k + "=" + v);
    print_line(fmt::format("name:        {}", p.name));
    print_line(fmt::format("file:        {}", p.file));
    print_line(fmt::format("params:      {}", params.empty() ? "-" : join(params, " ")));
    print_line(fmt::format("handlers:    {}", p.handlers.empty() ? "-" : join(p.handlers)));
    print_line(fmt::format("calls:       {} ({} failed)", p.calls, p.errors));
    print_line(fmt::format("memory:      {}", format_size(p.memory)));
    if (!p.last_error.empty()) print_line(fmt::format("last error:  {}", p.last_error));
    return 0;
}

// One argument of a recorded call as the table shows it: JSON, strings
// without quotes when they are plain words.
std::string show_value(const nlohmann::json& v) { return v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

std::string show_args(const nlohmann::json& args) {
    std::vector<std::string> parts;
    for (const auto& v : args) parts.push_back(show_value(v));
    return join(parts, ", ");
}

std::string show_outcome(const nlohmann::json& call) {
    if (auto e = call.find("error"); e != call.end()) {
        std::string name = (*e)["name"], message = (*e)["message"], field = (*e)["field"];
        std::string text = name.empty() ? message : name + ": " + message;
        return "error: " + (field.empty() ? text : text + " (" + field + ")");
    }
    return call["result"].is_null() ? "ok" : show_value(call["result"]);
}

int test(Context& ctx, const ParsedArgs& a) {
    const std::string& file = a.arg(0);
    std::string source = read_file(file);
    std::string label = file == "-" ? "<stdin>" : std::filesystem::absolute(file).string();
    auto params = a.key_values("param");
    std::string event = a.value("event").value_or("on_start");
    std::string args = a.value("args").value_or("");
    std::string text = ctx.client.call([&](ManagerProxy& m) { return m.TestPolicy(source, label, params, event, args); });
    nlohmann::json report = nlohmann::json::parse(text);
    bool failed = !report["failures"].empty() || report.contains("error");
    if (ctx.json) {
        print_json(report);
        return failed ? 1 : 0;
    }
    if (report["calls"].empty()) {
        print_line("no calls");
    } else {
        Table t({"PHASE", "CALL", "ARGUMENTS", "RESULT"});
        for (const auto& c : report["calls"])
            t.add({c["phase"].get<std::string>(), c["call"].get<std::string>(), show_args(c["args"]), show_outcome(c)});
        print(t);
    }
    for (const auto& tm : report["timers"])
        print_line(fmt::format("timer: nvmfd.{}({} s) registered in {} (not run)", tm["call"].get<std::string>(),
                               show_value(tm["seconds"]), tm["phase"].get<std::string>()));
    if (report.contains("ran") && !report["ran"].get<bool>())
        print_line(fmt::format("the policy has no {} handler", event));
    if (report.contains("result") && event == "on_host_connect")
        print_line(report["result"]["allow"].get<bool>()
                       ? std::string("verdict: allow")
                       : "verdict: deny (" + report["result"]["reason"].get<std::string>() + ")");
    else if (report.contains("result"))
        print_line("template result: " + show_value(report["result"]));
    if (report.contains("error")) print_line("template error: " + show_outcome(report));
    for (const auto& f : report["failures"])
        print_line(fmt::format("failed in {}: {}", f["phase"].get<std::string>(), f["message"].get<std::string>()));
    print_line("dry run: nothing was changed");
    return failed ? 1 : 0;
}

}  // namespace

Group policy_commands() {
    const ArgSpec name{"name", "the policy's name"};
    return Group{
        "policy",
        "Lua policies: scripts that react to events by calling the control API",
        {
            {{"policy",
              "load",
              "Load (or replace) a policy script.",
              {{"file", "a .lua file ('-' for standard input)"}},
              {{"name", "NAME", "the policy's name (default: the file name without .lua)"},
               {"param", "KEY=VALUE", "a setting the script reads as nvmfd.params.KEY", true}},
              "The script is checked first: a syntax error is refused with its file and line and\n"
              "nothing changes. A loaded policy is kept in the state file and reloaded at start."},
             load},
            {{"policy",
              "test",
              "Dry run: show the calls a policy would make, changing nothing.",
              {{"file", "a .lua file ('-' for standard input)"}},
              {{"event", "EVENT",
                "on_start (default), a handler (on_ana_change, ...) or templates.NAME (a provisioning template)"},
               {"args", "JSON", "the handler's info table or the template's args, as a JSON object"},
               {"param", "KEY=VALUE", "a setting the script reads as nvmfd.params.KEY", true}},
              "The script runs in the daemon against a scratch copy of its configuration: the main\n"
              "chunk, on_start, then EVENT. Every call is validated as for real and listed with its\n"
              "result or error; timers and probes are listed, not run. Nothing is saved, opened or listened on,\n"
              "and no connected host is seen. Exit code 1 when the script failed somewhere.\n"
              "Example:\n"
              "  nvmfctl policy test examples/policies/failover.lua --event on_drain --param self=a \\\n"
              "      --param gateways=a=10.0.0.1:4420,b=10.0.0.2:4420 --param subsystem=nqn.2026-11.io.nvmfd:db1\n"
              "  nvmfctl policy test examples/policies/admission.lua --param deny=nqn.2026-11.com.example:old \\\n"
              "      --event on_host_connect --args '{\"host\": \"nqn.2026-11.com.example:old\", \"subsystem\": \"x\"}'"},
             test},
            {{"policy", "unload", "Stop a policy and forget it (its timers stop).", {name}, {}, ""}, unload},
            {{"policy", "list", "List the loaded policies.", {}, {}, ""}, list},
            {{"policy", "show", "Show a policy: parameters, handlers, counters, last error.", {name}, {}, ""},
             show},
        },
        "Runtime errors in a policy are logged and sent as the PolicyError D-Bus signal; nvmfd\n"
        "keeps serving. See docs/lua-api.md."};
}

}  // namespace nvmfd::cli
