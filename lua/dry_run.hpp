// `nvmfctl policy test`: runs a policy against a scratch copy of the
// daemon's configuration (control::ScratchControl) and reports the calls it
// made, with their results and errors, in order. The main chunk runs, then
// on_start (as at a real load), then the event asked for: a handler with
// the given info table, or a provisioning template with the given args.
// Timers are listed, never run. Nothing of the daemon changes: the copy
// persists nothing, opens no namespace and listens on no port; the calls
// still go through the real validation.
#pragma once

#include <nlohmann/json.hpp>

#include "core/control/policy_service.hpp"
#include "lua/policy.hpp"

namespace nvmfd::lua {

// env: the live daemon's (its control is copied, never called to change).
Result<nlohmann::json> dry_run(const control::PolicyTest& test, const PolicyEnvironment& env);

}  // namespace nvmfd::lua
