// The control API for Lua policies: only their persisted form. The policy
// engine (lua/) compiles and runs them and records here what it accepted,
// so that a restart runs the same policies again.
#include "core/control/control.hpp"

#include <algorithm>

#include "core/control/control_helpers.hpp"
#include "core/runtime/log.hpp"

namespace nvmfd::control {

using namespace detail;

Result<void> Control::put_policy(const PolicySpec& policy) {
    std::lock_guard lock(mutex_);
    TRY(check_policy_name(policy.name, "name"));
    ExportSpec next = spec_;
    std::erase_if(next.policies, [&](const PolicySpec& p) { return p.name == policy.name; });
    insert_sorted(next.policies, policy, [](const PolicySpec& p) { return p.name; });
    TRY(persist(next));
    spec_ = std::move(next);
    log::info("policy {} saved", policy.name);
    return {};
}

Result<void> Control::remove_policy(const std::string& name) {
    std::lock_guard lock(mutex_);
    ExportSpec next = spec_;
    if (std::erase_if(next.policies, [&](const PolicySpec& p) { return p.name == name; }) == 0)
        return make_error(ErrorCode::NotFound, fmt::format("no policy '{}'", name), "name");
    TRY(persist(next));
    spec_ = std::move(next);
    log::info("policy {} removed", name);
    return {};
}

}  // namespace nvmfd::control
