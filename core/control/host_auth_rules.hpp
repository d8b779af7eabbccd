// The rules of a host's authentication settings, shared by the control
// API, the state loader and snapshot building: which values are valid
// (errors name the setting: dhchap-secret, dhchap-digests...), how an update
// applies, and what the data path gets.
#pragma once

#include <memory>
#include <string>

#include "core/control/control.hpp"
#include "core/target/host_auth.hpp"

namespace nvmfd::control::detail {

// Apply `update` to `a` and check the result as a whole; `a` is left as it
// was when the result is refused.
Result<void> update_host_auth(HostAuthSpec& a, const HostKeyUpdate& update);
// Check settings (an update's result, or what the state and secrets files
// hold; `where` prefixes fields) and normalize them: digest and group names
// sorted, each once.
Result<void> check_host_auth(HostAuthSpec& a, const std::string& where);
HostKeyInfo host_key_info(const HostAuthSpec& a);
std::shared_ptr<const target::HostAuth> data_path_auth(const HostAuthSpec& a);

}  // namespace nvmfd::control::detail
