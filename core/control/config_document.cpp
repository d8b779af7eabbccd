#include "core/control/config_document.hpp"

#include "core/control/secrets_file.hpp"
#include "core/control/state_json.hpp"

namespace nvmfd::control {

namespace {
constexpr const char* kSecrets = "secrets";
}

nlohmann::json config_with_secrets(const ExportSpec& spec) {
    nlohmann::json j = to_json(spec);
    j[kSecrets] = secrets_to_json(spec);
    return j;
}

Result<ExportSpec> config_from_json(const nlohmann::json& j) {
    if (!j.is_object() || !j.contains(kSecrets)) return from_json(j);
    nlohmann::json config = j;
    config.erase(kSecrets);
    auto spec = from_json(config);
    if (!spec) return spec;
    if (auto merged = merge_secrets(*spec, j.at(kSecrets), UnnamedSecret::refuse, kSecrets); !merged)
        return nvmfd::unexpected(merged.error());
    return spec;
}

}  // namespace nvmfd::control
