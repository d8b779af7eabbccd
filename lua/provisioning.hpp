// Provisioning: `nvmfctl namespace provision TEMPLATE --arg K=V` runs the
// template function `templates.TEMPLATE` of the loaded policy that defines
// it. The template decides backend, size, NSID, masking and ANA group
// through the nvmfd.* calls and returns what it made; a template that fails
// halfway has what it changed undone (template_undo.hpp).
#pragma once

#include <map>
#include <memory>
#include <string>

#include "core/control/control.hpp"
#include "lua/policy.hpp"

namespace nvmfd::lua {

using PolicyMap = std::map<std::string, std::unique_ptr<Policy>>;

Result<std::map<std::string, std::string>> provision(PolicyMap& policies, control::Control& control,
                                                     const std::string& name,
                                                     const std::map<std::string, std::string>& args);

// A template's result as D-Bus's a{ss}: strings as they are, numbers and
// booleans as text, lists of them joined with ",", anything else as JSON.
std::map<std::string, std::string> flatten_result(const nlohmann::json& result);

}  // namespace nvmfd::lua
