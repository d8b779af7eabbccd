// The secrets file: hosts' DH-HMAC-CHAP secrets and TLS PSKs, kept apart
// from the state file so that the state can be shown, exported and backed
// up without them. Same directory as the state file, `<stem>.secrets.json`,
// mode 0600, written atomically before the state file (a crash in between
// leaves a secret the state does not name, which is ignored, never a host
// the state says has a secret without one).
#pragma once

#include <filesystem>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/control/export_spec.hpp"
#include "core/runtime/error.hpp"

namespace nvmfd::control {

std::filesystem::path secrets_path_for(const std::filesystem::path& state_file);
bool has_secrets(const ExportSpec& spec);
nlohmann::json secrets_to_json(const ExportSpec& spec);
// What to do with a secret for a key the state does not name.
enum class UnnamedSecret {
    ignore,  // the secrets file at start: left over from a change the state did not record
    refuse,  // a restored configuration: a mistake in the file the admin should hear of
};
// Fill in the secrets the state names; an error names the bad entry, with
// `where` before it ("secrets" for the section of a restored configuration).
Result<void> merge_secrets(ExportSpec& spec, const nlohmann::json& j, UnnamedSecret unnamed = UnnamedSecret::ignore,
                           std::string_view where = {});

}  // namespace nvmfd::control
