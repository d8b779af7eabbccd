// The configuration as `config save` writes it and `config restore` reads
// it: the state file's document and, only when the admin asks for it, a
// "secrets" section in the secrets file's format. A file with that section
// is a backup that brings hosts' keys along; one without it names the keys
// and leaves their values to the secrets nvmfd holds.
#pragma once

#include <nlohmann/json.hpp>

#include "core/control/export_spec.hpp"
#include "core/runtime/error.hpp"

namespace nvmfd::control {

nlohmann::json config_with_secrets(const ExportSpec& spec);
// Strict like from_json; a secret in the section for a key the
// configuration does not name is an error, not silently dropped.
Result<ExportSpec> config_from_json(const nlohmann::json& j);

}  // namespace nvmfd::control
