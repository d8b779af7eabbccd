// The export state as JSON (the state file and `config save/restore`).
// Reading is strict: unknown keys and wrong types are errors naming the
// offending field, so a typo in a hand-edited file is caught, not ignored.
#pragma once

#include <nlohmann/json.hpp>

#include "core/control/export_spec.hpp"
#include "core/runtime/error.hpp"

namespace nvmfd::control {

nlohmann::json to_json(const ExportSpec& spec);
Result<ExportSpec> from_json(const nlohmann::json& j);

}  // namespace nvmfd::control
