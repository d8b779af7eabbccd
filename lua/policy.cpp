#include "lua/policy.hpp"

#include <algorithm>
#include <fmt/ranges.h>

#include "core/runtime/log.hpp"
#include "lua/events.hpp"
#include "lua/lua_to_json.hpp"

namespace nvmfd::lua {

Policy::Policy(const control::PolicySpec& spec, const PolicyEnvironment& env)
    : spec_(spec), env_(env), context_{env.control, spec.name, spec.params} {
    context_.draining = env.draining;
}

Result<std::unique_ptr<Policy>> Policy::load(const control::PolicySpec& spec, const PolicyEnvironment& env,
                                              CallRecorder* recorder) {
    std::unique_ptr<Policy> p(new Policy(spec, env));  // private constructor: make_unique cannot reach it
    p->context_.recorder = recorder;
    auto sandbox = Sandbox::create(spec.name, env.limits);
    if (!sandbox) return nvmfd::unexpected(sandbox.error());
    p->sandbox_ = std::move(*sandbox);
    lua_State* L = p->sandbox_->state();
    p->timers_ = std::make_unique<Timers>(env.io, L, env.limits,
                                          [raw = p.get()](int ref, const std::string& what) { raw->fire_timer(ref, what); });
    p->context_.timers = p->timers_.get();
    p->probes_ = std::make_unique<Probes>(
        env.io, L, env.limits.max_probes,
        [raw = p.get()](int ref, const ProbeResult& r, const std::string& what) { raw->fire_probe(ref, r, what); });
    p->context_.probes = p->probes_.get();
    p->watches_ = std::make_unique<PeerWatches>(env.io, env.limits.max_peer_watches,
                                                [raw = p.get()](const PeerChange& c) { raw->peer_changed(c); });
    p->context_.watches = p->watches_.get();
    if (auto err = p->sandbox_->protect([&](lua_State* L) { install_bindings(L, p->context_); }))
        return make_error(ErrorCode::Internal, "cannot install the nvmfd bindings: " + *err);

    const std::string& file = spec.file.empty() ? spec.name : spec.file;
    auto err = p->sandbox_->call([&](lua_State* L) {
        Sandbox::push_chunk(L, spec.source, file);
        return 0;
    });
    if (err) return make_error(ErrorCode::InvalidArgument, std::move(*err), "source");
    p->context_.loading = false;
    if (auto err = p->sandbox_->protect([&](lua_State* L) {
            p->find_handlers(L);
            p->find_templates(L);
        }))
        return make_error(ErrorCode::InvalidArgument, std::move(*err), "source");
    return p;
}

void Policy::find_handlers(lua_State* L) {
    handlers_.clear();
    lua_pushglobaltable(L);
    for (auto name : kHandlerNames) {
        lua_pushlstring(L, name.data(), name.size());
        if (lua_rawget(L, -2) == LUA_TFUNCTION) handlers_.emplace_back(name);
        lua_pop(L, 1);
    }
    // A misspelt handler would silently never run: say so.
    lua_pushnil(L);
    while (lua_next(L, -2)) {
        if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TFUNCTION) {
            std::string_view key = lua_tostring(L, -2);
            if (key.starts_with("on_") && std::find(kHandlerNames.begin(), kHandlerNames.end(), key) == kHandlerNames.end())
                log::warn("policy {}: '{}' is not an nvmfd event handler and will never be called (known: {})",
                          spec_.name, key, fmt::join(kHandlerNames, ", "));
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

void Policy::find_templates(lua_State* L) {
    templates_.clear();
    if (lua_getglobal(L, "templates") == LUA_TTABLE) {
        lua_pushnil(L);
        while (lua_next(L, -2)) {
            if (lua_type(L, -2) == LUA_TSTRING) {
                std::string name = lua_tostring(L, -2);
                if (lua_type(L, -1) == LUA_TFUNCTION) templates_.push_back(name);
                else log::warn("policy {}: templates.{} is not a function and cannot be provisioned", spec_.name, name);
            }
            lua_pop(L, 1);
        }
    }
    lua_pop(L, 1);
    std::sort(templates_.begin(), templates_.end());
}

void Policy::start() {
    call("on_start", nullptr);
}

bool Policy::handles(std::string_view handler) const {
    return std::find(handlers_.begin(), handlers_.end(), handler) != handlers_.end();
}

Sandbox::Pusher Policy::push_handler(const std::string& handler, const std::function<void(lua_State*)>& push_arg) {
    return [&handler, &push_arg](lua_State* L) {
        lua_pushglobaltable(L);
        lua_pushlstring(L, handler.data(), handler.size());
        lua_rawget(L, -2);  // not a function any more: the call says so
        lua_remove(L, -2);
        if (!push_arg) return 0;
        push_arg(L);
        return 1;
    };
}

void Policy::call(const std::string& handler, const std::function<void(lua_State*)>& push_arg) {
    if (!handles(handler)) return;
    run(handler, push_handler(handler, push_arg));
}

bool Policy::ask(const std::string& handler, const std::function<void(lua_State*)>& push_arg,
                 const Sandbox::Receiver& receive) {
    if (!handles(handler)) return false;
    return run(handler, push_handler(handler, push_arg), receive);
}

void Policy::fire_timer(int ref, const std::string& what) {
    run(what, [ref](lua_State* L) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
        return 0;
    });
}

void Policy::peer_changed(const PeerChange& c) {
    call("on_peer_change", [&c](lua_State* L) {
        lua_createtable(L, 0, 6);
        lua_pushlstring(L, c.name.data(), c.name.size());
        lua_setfield(L, -2, "name");
        lua_pushlstring(L, c.address.data(), c.address.size());
        lua_setfield(L, -2, "address");
        lua_pushlstring(L, c.port.data(), c.port.size());
        lua_setfield(L, -2, "port");
        lua_pushstring(L, c.up ? "up" : "down");
        lua_setfield(L, -2, "state");
        if (!c.up) {
            lua_pushlstring(L, c.reason.data(), c.reason.size());
            lua_setfield(L, -2, "reason");
            lua_pushinteger(L, c.missed);
            lua_setfield(L, -2, "missed");
        }
    });
}

void Policy::fire_probe(int ref, const ProbeResult& result, const std::string& what) {
    run(what, [ref, &result](lua_State* L) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
        push_probe_result(L, result);
        return 1;
    });
}

bool Policy::run(const std::string& what, const Sandbox::Pusher& push, const Sandbox::Receiver& receive) {
    ++calls_;
    auto err = receive ? sandbox_->call(push, receive) : sandbox_->call(push);
    if (!err) return true;
    if (context_.recorder) {
        context_.recorder->failed(*err);  // a dry run reports, it does not log
        return false;
    }
    // A typed error out of a template is the caller's answer (a refused
    // argument), not a failure of the policy: run_template returns it.
    if (what.starts_with("templates.") && sandbox_->typed_error()) return false;
    ++errors_;
    last_error_ = *err;
    log::error("policy {}: {} failed: {}", spec_.name, what, *err);
    if (env_.on_error) env_.on_error(PolicyError{spec_.name, what, *err});
    return false;
}

Result<nlohmann::json> Policy::run_template(const std::string& name, const std::function<void(lua_State*)>& push_args) {
    std::string what = "templates." + name;
    nlohmann::json result;
    bool ok = run(
        what,
        [&](lua_State* L) {
            lua_getglobal(L, "templates");
            if (lua_type(L, -1) != LUA_TTABLE) luaL_error(L, "the global 'templates' is not a table any more");
            lua_getfield(L, -1, name.c_str());
            lua_remove(L, -2);  // not a function any more: the call says so
            push_args(L);
            return 1;
        },
        [&](lua_State* L, int count) {
            if (count == 0) lua_pushnil(L);  // returned nothing: as nil
            result = to_json(L, lua_absindex(L, count ? -count : -1));
        });
    if (ok) return result;
    if (const auto& typed = sandbox_->typed_error()) {
        return make_error(typed->code, fmt::format("{} (template {} of policy {})", typed->message, name, spec_.name),
                          typed->field);
    }
    return make_error(ErrorCode::Internal,
                      fmt::format("template {} of policy {} failed: {}", name, spec_.name,
                                  context_.recorder && !context_.recorder->failures().empty()
                                      ? context_.recorder->failures().back().message
                                      : last_error_),
                      "template");
}

control::PolicyInfo Policy::info() const {
    control::PolicyInfo i;
    i.name = spec_.name;
    i.file = spec_.file;
    i.params = spec_.params;
    i.handlers = handlers_;
    for (const auto& t : templates_) i.handlers.push_back("templates." + t);
    i.calls = calls_;
    i.errors = errors_;
    i.last_error = last_error_;
    i.memory_bytes = sandbox_->memory_bytes();
    return i;
}

}  // namespace nvmfd::lua
