#include "lua/policy_manager.hpp"

#include <boost/asio/post.hpp>
#include <fmt/ranges.h>

#include "core/runtime/log.hpp"
#include "lua/events.hpp"

namespace nvmfd::lua {

PolicyManager::PolicyManager(boost::asio::io_context& io, control::Control& control, PolicyLimits limits,
                             ErrorCallback on_error)
    : env_{io, control, limits, std::move(on_error)} {
    // Events are emitted while Control holds its lock, and a handler may
    // call Control again: handlers run later, from the io_context, never
    // inside the call that caused the event.
    control.add_listener([weak = std::weak_ptr<PolicyManager*>(alive_), &io](const control::Event& e) {
        if (weak.expired()) return;
        boost::asio::post(io, [weak, e] {
            if (auto self = weak.lock()) (*self)->dispatch(e);
        });
    });
}

PolicyManager::~PolicyManager() = default;

void PolicyManager::restore() {
    for (const auto& spec : env_.control.export_spec().policies) {
        auto policy = Policy::load(spec, env_);
        if (!policy) {
            log::error("policy {} was not loaded: {}", spec.name, policy.error().message);
            if (env_.on_error) env_.on_error(PolicyError{spec.name, "load", policy.error().message});
            continue;
        }
        auto& p = policies_[spec.name] = std::move(*policy);
        log::info("policy {} restored (handlers: {})", spec.name, fmt::join(p->info().handlers, ", "));
        p->start();
    }
}

Result<void> PolicyManager::load(const std::string& name, const std::string& source, const std::string& file,
                                 const std::map<std::string, std::string>& params) {
    control::PolicySpec spec{name, source, file, params};
    auto policy = Policy::load(spec, env_);
    if (!policy) return std::unexpected(policy.error());
    if (auto saved = env_.control.put_policy(spec); !saved) return std::unexpected(saved.error());
    // Replacing drops the old one here: its timers stop with it.
    auto& p = policies_[name] = std::move(*policy);
    log::notice("policy {} loaded from {} (handlers: {})", name, file, fmt::join(p->info().handlers, ", "));
    p->start();
    return {};
}

Result<void> PolicyManager::unload(const std::string& name) {
    auto it = policies_.find(name);
    bool persisted = false;
    for (const auto& spec : env_.control.export_spec().policies) persisted |= spec.name == name;
    if (it == policies_.end() && !persisted)
        return make_error(ErrorCode::NotFound, fmt::format("no policy '{}'", name), "name");
    // A persisted policy that failed to load at start is not running but can still be unloaded.
    if (persisted)
        if (auto removed = env_.control.remove_policy(name); !removed) return std::unexpected(removed.error());
    if (it != policies_.end()) policies_.erase(it);
    log::notice("policy {} unloaded", name);
    return {};
}

std::vector<control::PolicyInfo> PolicyManager::list() const {
    std::vector<control::PolicyInfo> out;
    for (const auto& [name, p] : policies_) out.push_back(p->info());
    return out;
}

Result<control::PolicyInfo> PolicyManager::show(const std::string& name) const {
    auto it = policies_.find(name);
    if (it == policies_.end()) return make_error(ErrorCode::NotFound, fmt::format("no policy '{}'", name), "name");
    return it->second->info();
}

void PolicyManager::dispatch(const control::Event& e) {
    const char* handler = handler_for(e.kind);
    if (!handler) return;
    for (auto& [name, p] : policies_)
        if (p->handles(handler)) p->call(handler, [&e](lua_State* L) { push_event_info(L, e); });
}

}  // namespace nvmfd::lua
