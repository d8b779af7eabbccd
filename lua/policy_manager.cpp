#include "lua/policy_manager.hpp"

#include <boost/asio/post.hpp>
#include <fmt/ranges.h>

#include "core/runtime/log.hpp"
#include "lua/admission.hpp"
#include "lua/dry_run.hpp"
#include "lua/events.hpp"
#include "lua/provisioning.hpp"

namespace nvmfd::lua {

PolicyManager::PolicyManager(boost::asio::io_context& io, control::Control& control, PolicyLimits limits,
                             ErrorCallback on_error)
    : on_error_(std::move(on_error)),
      env_{io, control, limits, [this](const PolicyError& e) {
               if (on_error_) on_error_(e);
           },
           &draining_},
      backend_errors_(io, control, [this](const BackendErrors& e) { report_backend_errors(e); }) {
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

PolicyManager::~PolicyManager() {
    if (admission_installed_) env_.control.set_admission({});
}

void PolicyManager::install_admission() {
    env_.control.set_admission([weak = std::weak_ptr<PolicyManager*>(alive_)](const control::AdmissionQuery& q) {
        if (auto self = weak.lock()) return (*self)->decide(q);
        return control::AdmissionVerdict{};
    });
    admission_installed_ = true;
}

void PolicyManager::hold_admissions_until_restored() { install_admission(); }

void PolicyManager::update_watches() {
    update_admission();
    bool wanted = false;
    for (auto& [name, p] : policies_) wanted = wanted || p->handles("on_backend_error");
    backend_errors_.set_enabled(wanted);
}

void PolicyManager::report_backend_errors(const BackendErrors& e) {
    log::warn("namespace {} of {}: {} backend I/O error(s) in the last {} ms ({} since it was opened)", e.nsid,
              e.subsystem, e.errors, BackendErrorWatch::kPeriod.count(), e.total);
    for (auto& [name, p] : policies_)
        if (p->handles("on_backend_error"))
            p->call("on_backend_error", [&e](lua_State* L) {
                lua_createtable(L, 0, 4);
                lua_pushlstring(L, e.subsystem.data(), e.subsystem.size());
                lua_setfield(L, -2, "subsystem");
                lua_pushinteger(L, e.nsid);
                lua_setfield(L, -2, "nsid");
                lua_pushinteger(L, static_cast<lua_Integer>(e.errors));
                lua_setfield(L, -2, "errors");
                lua_pushinteger(L, static_cast<lua_Integer>(e.total));
                lua_setfield(L, -2, "total");
            });
}

void PolicyManager::update_admission() {
    bool wanted = false;
    for (auto& [name, p] : policies_) wanted = wanted || p->handles(kAdmissionHandler);
    if (wanted == admission_installed_) return;
    if (!wanted) {
        env_.control.set_admission({});
        admission_installed_ = false;
        log::info("no policy defines {}: hosts are admitted by the allow-lists alone", kAdmissionHandler);
        return;
    }
    install_admission();
    log::info("admin Connects to I/O subsystems now wait for {} of the policies", kAdmissionHandler);
}

control::AdmissionVerdict PolicyManager::decide(const control::AdmissionQuery& q) {
    control::AdmissionVerdict verdict;
    for (auto& [name, p] : policies_) {
        if (!p->handles(kAdmissionHandler)) continue;
        ScriptVerdict said;
        bool answered = p->ask(kAdmissionHandler, [&q](lua_State* L) { push_admission_info(L, q); },
                               [&said](lua_State* L, int count) { read_admission_results(L, count, said); });
        if (!answered) {
            log::warn("policy {} could not decide on host '{}' for '{}' (its error is logged above); "
                      "the allow-list's decision stands",
                      name, q.host, q.subsystem);
            continue;
        }
        if (!said.allow && verdict.allow) verdict = control::AdmissionVerdict{false, name, said.reason};
    }
    return verdict;
}

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
    update_watches();
}

Result<void> PolicyManager::load(const std::string& name, const std::string& source, const std::string& file,
                                 const std::map<std::string, std::string>& params) {
    control::PolicySpec spec{name, source, file, params};
    auto policy = Policy::load(spec, env_);
    if (!policy) return nvmfd::unexpected(policy.error());
    if (auto saved = env_.control.put_policy(spec); !saved) return nvmfd::unexpected(saved.error());
    // Replacing drops the old one here: its timers stop with it.
    auto& p = policies_[name] = std::move(*policy);
    broken_.erase(name);
    log::notice("policy {} loaded from {} (handlers: {})", name, file, fmt::join(p->info().handlers, ", "));
    p->start();
    update_watches();
    return {};
}

Result<void> PolicyManager::unload(const std::string& name) {
    if (!policies_.contains(name) && !broken_.contains(name))
        return make_error(ErrorCode::NotFound, fmt::format("no policy '{}'", name), "name");
    if (auto removed = env_.control.remove_policy(name); !removed) return nvmfd::unexpected(removed.error());
    policies_.erase(name);  // its timers stop with it
    broken_.erase(name);
    log::notice("policy {} unloaded", name);
    update_watches();
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

Result<std::vector<std::string>> PolicyManager::set_draining(bool draining) {
    const char* handler = draining ? "on_drain" : "on_resume";
    std::vector<std::string> handled_by;
    for (auto& [name, p] : policies_)
        if (p->handles(handler)) handled_by.push_back(name);
    if (handled_by.empty())
        return make_error(ErrorCode::NotSupported,
                          fmt::format("no loaded policy handles {}: nothing would move this gateway's ANA groups "
                                      "(load examples/policies/failover.lua)",
                                      handler),
                          "");
    draining_ = draining;
    log::notice("gateway {}: telling policies {}", draining ? "draining" : "back in service", fmt::join(handled_by, ", "));
    for (auto& [name, p] : policies_)
        p->call(handler, [draining](lua_State* L) {
            lua_createtable(L, 0, 1);
            lua_pushboolean(L, draining);
            lua_setfield(L, -2, "draining");
        });
    return handled_by;
}

Result<std::map<std::string, std::string>> PolicyManager::provision(const std::string& name,
                                                                    const std::map<std::string, std::string>& args) {
    return lua::provision(policies_, env_.control, name, args);
}

Result<std::string> PolicyManager::test(const control::PolicyTest& test) {
    auto report = dry_run(test, env_);
    if (!report) return nvmfd::unexpected(report.error());
    return report->dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

void PolicyManager::dispatch(const control::Event& e) {
    const char* handler = handler_for(e.kind);
    if (!handler) return;
    for (auto& [name, p] : policies_)
        if (p->handles(handler)) p->call(handler, [&e](lua_State* L) { push_event_info(L, e); });
}

}  // namespace nvmfd::lua
