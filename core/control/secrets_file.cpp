#include "core/control/secrets_file.hpp"

#include "core/runtime/log.hpp"

namespace nvmfd::control {

using nlohmann::json;

namespace {

struct Slot {
    const char* name;
    SecretSpec HostAuthSpec::*member;
};
constexpr Slot kSlots[] = {{"dhchap_secret", &HostAuthSpec::dhchap_secret},
                           {"dhchap_ctrl_secret", &HostAuthSpec::dhchap_ctrl_secret},
                           {"tls_psk", &HostAuthSpec::tls_psk}};

}  // namespace

std::filesystem::path secrets_path_for(const std::filesystem::path& state_file) {
    return state_file.parent_path() / (state_file.stem().string() + ".secrets.json");
}

bool has_secrets(const ExportSpec& spec) {
    for (const auto& s : spec.subsystems)
        for (const auto& [host, a] : s.host_auth)
            for (const auto& slot : kSlots)
                if (!(a.*slot.member).text.empty()) return true;
    return false;
}

json secrets_to_json(const ExportSpec& spec) {
    json subsystems = json::object();
    for (const auto& s : spec.subsystems)
        for (const auto& [host, a] : s.host_auth)
            for (const auto& slot : kSlots)
                if (!(a.*slot.member).text.empty()) subsystems[s.nqn][host][slot.name] = (a.*slot.member).text;
    return json{{"version", 1}, {"subsystems", subsystems}};
}

Result<void> merge_secrets(ExportSpec& spec, const json& j, UnnamedSecret unnamed, std::string_view where) {
    auto bad = [&](std::string field, std::string why) {
        return make_error(ErrorCode::InvalidArgument, std::move(why),
                          where.empty() ? field : fmt::format("{}.{}", where, field));
    };
    if (!j.is_object() || !j.contains("subsystems") || !j["subsystems"].is_object())
        return bad("subsystems", "must be an object");
    for (auto s = j["subsystems"].begin(); s != j["subsystems"].end(); ++s) {
        if (!s.value().is_object()) return bad(fmt::format("subsystems[{}]", s.key()), "must be an object");
        auto sub = std::find_if(spec.subsystems.begin(), spec.subsystems.end(), [&](auto& x) { return x.nqn == s.key(); });
        for (auto h = s.value().begin(); h != s.value().end(); ++h) {
            std::string where = fmt::format("subsystems[{}][{}]", s.key(), h.key());
            if (!h.value().is_object()) return bad(where, "must be an object");
            HostAuthSpec* a = nullptr;
            if (sub != spec.subsystems.end())
                if (auto it = sub->host_auth.find(h.key()); it != sub->host_auth.end()) a = &it->second;
            for (auto k = h.value().begin(); k != h.value().end(); ++k) {
                const Slot* slot = nullptr;
                for (const auto& x : kSlots)
                    if (k.key() == x.name) slot = &x;
                if (!slot) return bad(where + "." + k.key(), "unknown key");
                if (!k.value().is_string()) return bad(where + "." + k.key(), "must be a string");
                if (!a || !(a->*slot->member).set) {
                    if (unnamed == UnnamedSecret::refuse)
                        return bad(where + "." + k.key(),
                                   "the configuration does not name this key for this host (its host_auth.keys)");
                    log::warn("secrets file: {}.{} is not named by the state file; ignored", where, k.key());
                    continue;
                }
                (a->*slot->member).text = k.value().get<std::string>();
            }
        }
    }
    return {};
}

}  // namespace nvmfd::control
