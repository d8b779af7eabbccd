// The secrets file: hosts' DH-HMAC-CHAP secrets and TLS PSKs, kept apart
// from the state file so that the state can be shown, exported and backed
// up without them. Same directory as the state file, `<stem>.secrets.json`,
// mode 0600, written atomically before the state file (a crash in between
// leaves a secret the state does not name, which is ignored, never a host
// the state says has a secret without one).
#pragma once

#include <filesystem>

#include <nlohmann/json.hpp>

#include "core/control/export_spec.hpp"
#include "core/runtime/error.hpp"

namespace nvmfd::control {

std::filesystem::path secrets_path_for(const std::filesystem::path& state_file);
bool has_secrets(const ExportSpec& spec);
nlohmann::json secrets_to_json(const ExportSpec& spec);
// Fill in the secrets the state names; an error names the bad entry.
Result<void> merge_secrets(ExportSpec& spec, const nlohmann::json& j);

}  // namespace nvmfd::control
