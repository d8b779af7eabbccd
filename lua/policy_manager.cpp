#include "lua/policy_manager.hpp"

#include <boost/asio/post.hpp>
#include <fmt/ranges.h>

#include "core/runtime/log.hpp"
#include "lua/dry_run.hpp"
#include "lua/events.hpp"
#include "lua/provisioning.hpp"

namespace nvmfd::lua {

PolicyManager::PolicyManager(boost::asio::io_context& io, control::Control& control, PolicyLimits limits,
                             ErrorCallback on_error)
    : on_error_(std::move(on_error)), env_{io, control, limits, [this](const PolicyError& e) {
          if (on_error_) on_error_(e);
      }} {
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
            env_.on_error(PolicyError{spec.name, "load", policy.error().message});
            control::PolicyInfo info;
            info.name = spec.name;
            info.file = spec.file;
            info.params = spec.params;
            info.errors = 1;
            info.last_error = policy.error().message;
            broken_[spec.name] = std::move(info);
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
    broken_.erase(name);
    log::notice("policy {} loaded from {} (handlers: {})", name, file, fmt::join(p->info().handlers, ", "));
    p->start();
    return {};
}

Result<void> PolicyManager::unload(const std::string& name) {
    if (!policies_.contains(name) && !broken_.contains(name))
        return make_error(ErrorCode::NotFound, fmt::format("no policy '{}'", name), "name");
    if (auto removed = env_.control.remove_policy(name); !removed) return std::unexpected(removed.error());
    policies_.erase(name);  // its timers stop with it
    broken_.erase(name);
    log::notice("policy {} unloaded", name);
    return {};
}

std::vector<control::PolicyInfo> PolicyManager::list() const {
    std::map<std::string, control::PolicyInfo> all = broken_;
    for (const auto& [name, p] : policies_) all[name] = p->info();
    std::vector<control::PolicyInfo> out;
    for (auto& [name, info] : all) out.push_back(std::move(info));
    return out;
}

Result<control::PolicyInfo> PolicyManager::show(const std::string& name) const {
    if (auto it = policies_.find(name); it != policies_.end()) return it->second->info();
    if (auto it = broken_.find(name); it != broken_.end()) return it->second;
    return make_error(ErrorCode::NotFound, fmt::format("no policy '{}'", name), "name");
}

Result<std::map<std::string, std::string>> PolicyManager::provision(const std::string& name,
                                                                    const std::map<std::string, std::string>& args) {
    return lua::provision(policies_, env_.control, name, args);
}

Result<std::string> PolicyManager::test(const control::PolicyTest& test) {
    auto report = dry_run(test, env_);
    if (!report) return std::unexpected(report.error());
    return report->dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

void PolicyManager::dispatch(const control::Event& e) {
    const char* handler = handler_for(e.kind);
    if (!handler) return;
    for (auto& [name, p] : policies_)
        if (p->handles(handler)) p->call(handler, [&e](lua_State* L) { push_event_info(L, e); });
}

}  // namespace nvmfd::lua
