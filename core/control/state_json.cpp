#include "core/control/state_json.hpp"

#include <algorithm>
#include <set>

#include "core/control/data_path.hpp"
#include "core/control/secure_channel.hpp"
#include "core/target/ana.hpp"

namespace nvmfd::control {

using nlohmann::json;

namespace {

json params_to_json(const plugin::Params& p) {
    json j = json::object();
    for (const auto& [k, v] : p) j[k] = v;
    return j;
}

// A small reader that remembers where it is, for error messages.
class Reader {
public:
    Reader(const json& j, std::string path) : j_(j), path_(std::move(path)) {}

    Result<void> only_keys(std::initializer_list<const char*> keys) const {
        if (!j_.is_object()) return fail("must be an object");
        for (auto it = j_.begin(); it != j_.end(); ++it) {
            bool known = std::any_of(keys.begin(), keys.end(), [&](const char* k) { return it.key() == k; });
            if (!known) return make_error(ErrorCode::InvalidArgument, "unknown key", sub(it.key()));
        }
        return {};
    }
    bool has(const char* key) const { return j_.contains(key); }
    Reader at(const char* key) const { return Reader(j_.at(key), sub(key)); }
    Reader at(size_t i) const { return Reader(j_.at(i), fmt::format("{}[{}]", path_, i)); }
    const json& raw() const { return j_; }
    const std::string& path() const { return path_; }

    Result<std::string> string(const char* key, bool required = true, std::string fallback = {}) const {
        if (!j_.contains(key)) {
            if (required) return make_error(ErrorCode::InvalidArgument, "is missing", sub(key));
            return fallback;
        }
        const json& v = j_.at(key);
        if (!v.is_string()) return make_error(ErrorCode::InvalidArgument, "must be a string", sub(key));
        return v.get<std::string>();
    }
    Result<uint64_t> number(const char* key, bool required, uint64_t fallback, uint64_t max) const {
        if (!j_.contains(key)) {
            if (required) return make_error(ErrorCode::InvalidArgument, "is missing", sub(key));
            return fallback;
        }
        const json& v = j_.at(key);
        if (!v.is_number_integer() || (v.is_number_integer() && !v.is_number_unsigned() && v.get<int64_t>() < 0) ||
            v.get<uint64_t>() > max)
            return make_error(ErrorCode::InvalidArgument, fmt::format("must be an integer from 0 to {}", max),
                              sub(key));
        return v.get<uint64_t>();
    }
    Result<bool> boolean(const char* key, bool fallback) const {
        if (!j_.contains(key)) return fallback;
        const json& v = j_.at(key);
        if (!v.is_boolean()) return make_error(ErrorCode::InvalidArgument, "must be true or false", sub(key));
        return v.get<bool>();
    }
    // Absent: nvmfd's own data path (files from before kernel-served exports).
    Result<DataPath> data_path(const char* key) const {
        auto name = string(key, false, data_path_name(DataPath::Nvmfd));
        if (!name) return nvmfd::unexpected(std::move(name.error()));
        auto p = parse_data_path(*name);
        if (!p)
            return make_error(ErrorCode::InvalidArgument,
                              fmt::format("must be 'nvmfd' or 'kernel', not '{}'", *name), sub(key));
        return *p;
    }
    Result<std::vector<std::string>> strings(const char* key) const {
        std::vector<std::string> out;
        if (!j_.contains(key)) return out;
        const json& v = j_.at(key);
        if (!v.is_array()) return make_error(ErrorCode::InvalidArgument, "must be a list of strings", sub(key));
        for (size_t i = 0; i < v.size(); ++i) {
            if (!v[i].is_string())
                return make_error(ErrorCode::InvalidArgument, "must be a string", fmt::format("{}[{}]", sub(key), i));
            out.push_back(v[i].get<std::string>());
        }
        return out;
    }
    Result<plugin::Params> params(const char* key) const {
        plugin::Params out;
        if (!j_.contains(key)) return out;
        const json& v = j_.at(key);
        if (!v.is_object()) return make_error(ErrorCode::InvalidArgument, "must be an object", sub(key));
        for (auto it = v.begin(); it != v.end(); ++it) {
            if (it->is_string()) out[it.key()] = it->get<std::string>();
            else if (it->is_number_integer()) out[it.key()] = std::to_string(it->get<int64_t>());
            else if (it->is_boolean()) out[it.key()] = it->get<bool>() ? "true" : "false";
            else
                return make_error(ErrorCode::InvalidArgument, "must be a string, number or boolean",
                                  fmt::format("{}.{}", sub(key), it.key()));
        }
        return out;
    }
    std::string sub(const std::string& key) const { return path_.empty() ? key : fmt::format("{}.{}", path_, key); }
    nvmfd::unexpected<Error> fail(std::string msg) const {
        return make_error(ErrorCode::InvalidArgument, std::move(msg), path_);
    }

private:
    const json& j_;
    std::string path_;
};

#define TRY_ASSIGN(lhs, expr)                                  \
    do {                                                       \
        auto _r = (expr);                                      \
        if (!_r) return nvmfd::unexpected(std::move(_r.error())); \
        lhs = std::move(*_r);                                  \
    } while (0)
#define TRY(expr)                                              \
    do {                                                       \
        auto _r = (expr);                                      \
        if (!_r) return nvmfd::unexpected(std::move(_r.error())); \
    } while (0)

// An optional list of objects, each read by read_item (absent = empty).
template <typename T>
Result<void> read_list(const Reader& r, const char* key, Result<T> (*read_item)(const Reader&), std::vector<T>& out) {
    if (!r.has(key)) return {};
    Reader list = r.at(key);
    if (!list.raw().is_array()) return list.fail("must be a list");
    for (size_t i = 0; i < list.raw().size(); ++i) {
        auto item = read_item(list.at(i));
        if (!item) return nvmfd::unexpected(std::move(item.error()));
        out.push_back(std::move(*item));
    }
    return {};
}

Result<NamespaceSpec> read_namespace(const Reader& r) {
    NamespaceSpec ns;
    TRY(r.only_keys({"nsid", "backend", "params", "uuid", "nguid", "ana_group", "visible_to"}));
    uint64_t v;
    TRY_ASSIGN(v, r.number("nsid", true, 0, 0xfffffffe));
    ns.nsid = static_cast<uint32_t>(v);
    TRY_ASSIGN(ns.backend, r.string("backend"));
    TRY_ASSIGN(ns.params, r.params("params"));
    TRY_ASSIGN(ns.uuid, r.string("uuid", false));
    TRY_ASSIGN(ns.nguid, r.string("nguid", false));
    TRY_ASSIGN(v, r.number("ana_group", false, 1, 0xffffffff));
    ns.ana_group = static_cast<uint32_t>(v);
    TRY_ASSIGN(ns.visible_to, r.strings("visible_to"));
    return ns;
}

// Which secrets a host has (their values are in the secrets file) and the
// choices it is allowed.
Result<HostAuthSpec> read_host_auth(const Reader& r) {
    HostAuthSpec a;
    if (!r.raw().is_object()) return make_error(ErrorCode::InvalidArgument, "must be an object", r.path());
    TRY(r.only_keys({"keys", "dhchap_digests", "dhchap_groups"}));
    std::vector<std::string> keys;
    TRY_ASSIGN(keys, r.strings("keys"));
    for (const auto& k : keys) {
        if (k == "dhchap_secret") a.dhchap_secret.set = true;
        else if (k == "dhchap_ctrl_secret") a.dhchap_ctrl_secret.set = true;
        else if (k == "tls_psk") a.tls_psk.set = true;
        else
            return make_error(ErrorCode::InvalidArgument,
                              fmt::format("'{}' is not one of dhchap_secret, dhchap_ctrl_secret, tls_psk", k),
                              r.path() + ".keys");
    }
    TRY_ASSIGN(a.dhchap_digests, r.strings("dhchap_digests"));
    TRY_ASSIGN(a.dhchap_groups, r.strings("dhchap_groups"));
    return a;
}

Result<SubsystemSpec> read_subsystem(const Reader& r) {
    SubsystemSpec s;
    TRY(r.only_keys({"nqn", "data_path", "passthru_device", "serial", "model", "allow_any_host", "hosts", "host_auth",
                     "max_namespaces", "min_cntlid", "max_cntlid", "namespaces"}));
    TRY_ASSIGN(s.nqn, r.string("nqn"));
    TRY_ASSIGN(s.data_path, r.data_path("data_path"));
    TRY_ASSIGN(s.passthru_device, r.string("passthru_device", false));
    TRY_ASSIGN(s.serial, r.string("serial", false));
    TRY_ASSIGN(s.model, r.string("model", false));
    TRY_ASSIGN(s.allow_any_host, r.boolean("allow_any_host", false));
    TRY_ASSIGN(s.hosts, r.strings("hosts"));
    if (r.raw().contains("host_auth")) {
        Reader ha = r.at("host_auth");
        if (!ha.raw().is_object()) return make_error(ErrorCode::InvalidArgument, "must be an object", ha.path());
        for (auto it = ha.raw().begin(); it != ha.raw().end(); ++it) {
            auto a = read_host_auth(Reader(it.value(), fmt::format("{}[{}]", ha.path(), it.key())));
            if (!a) return nvmfd::unexpected(a.error());
            s.host_auth[it.key()] = std::move(*a);
        }
    }
    uint64_t v;
    TRY_ASSIGN(v, r.number("max_namespaces", false, 1024, 0xfffffffe));
    s.max_namespaces = static_cast<uint32_t>(v);
    // Range-checked here only as far as the type goes; normalize() says which bound is wrong.
    TRY_ASSIGN(v, r.number("min_cntlid", false, 1, 0xffff));
    s.min_cntlid = static_cast<uint16_t>(v);
    TRY_ASSIGN(v, r.number("max_cntlid", false, 0xffef, 0xffff));
    s.max_cntlid = static_cast<uint16_t>(v);
    TRY(read_list(r, "namespaces", read_namespace, s.namespaces));
    return s;
}

Result<PortSpec> read_port(const Reader& r) {
    PortSpec p;
    TRY(r.only_keys({"id", "data_path", "transport", "family", "address", "service", "params", "subsystems",
                     "ana_states", "secure_channel"}));
    uint64_t v;
    TRY_ASSIGN(v, r.number("id", true, 0, 0xffff));
    p.id = static_cast<uint16_t>(v);
    TRY_ASSIGN(p.data_path, r.data_path("data_path"));
    TRY_ASSIGN(p.transport, r.string("transport", false, "tcp"));
    TRY_ASSIGN(p.family, r.string("family", false, "ipv4"));
    TRY_ASSIGN(p.address, r.string("address"));
    TRY_ASSIGN(p.service, r.string("service", false, "4420"));
    TRY_ASSIGN(p.params, r.params("params"));
    TRY_ASSIGN(p.subsystems, r.strings("subsystems"));
    std::string secure;
    TRY_ASSIGN(secure, r.string("secure_channel", false, "none"));
    auto sc = parse_secure_channel(secure);
    if (!sc) return make_error(ErrorCode::InvalidArgument, "must be none, allowed or required", r.sub("secure_channel"));
    p.secure_channel = *sc;
    if (r.has("ana_states")) {
        Reader states = r.at("ana_states");
        if (!states.raw().is_object()) return states.fail("must be an object of group id to state");
        for (auto it = states.raw().begin(); it != states.raw().end(); ++it) {
            std::string field = states.sub(it.key());
            auto group = plugin::parse_uint(it.key(), field);
            if (!group || *group == 0 || *group > 0xffffffff)
                return make_error(ErrorCode::InvalidArgument, "ANA group ids are positive integers", field);
            auto state = it->is_string() ? target::parse_ana_state(it->get<std::string>()) : std::nullopt;
            if (!state)
                return make_error(ErrorCode::InvalidArgument,
                                  "must be optimized, non-optimized, inaccessible, persistent-loss or change", field);
            p.ana_states[static_cast<uint32_t>(*group)] = *state;
        }
    }
    return p;
}

Result<std::map<std::string, std::string>> string_map(const Reader& r, const char* key) {
    std::map<std::string, std::string> out;
    if (!r.has(key)) return out;
    Reader m = r.at(key);
    if (!m.raw().is_object()) return m.fail("must be an object of strings");
    for (auto it = m.raw().begin(); it != m.raw().end(); ++it) {
        if (!it->is_string()) return make_error(ErrorCode::InvalidArgument, "must be a string", m.sub(it.key()));
        out[it.key()] = it->get<std::string>();
    }
    return out;
}

Result<PolicySpec> read_policy(const Reader& r) {
    PolicySpec p;
    TRY(r.only_keys({"name", "source", "file", "params"}));
    TRY_ASSIGN(p.name, r.string("name"));
    TRY_ASSIGN(p.source, r.string("source"));
    TRY_ASSIGN(p.file, r.string("file", false));
    TRY_ASSIGN(p.params, string_map(r, "params"));
    return p;
}

}  // namespace

json to_json(const ExportSpec& spec) {
    json j;
    j["version"] = kStateFormatVersion;
    j["ana_groups"] = spec.ana_groups;
    j["subsystems"] = json::array();
    for (const auto& s : spec.subsystems) {
        json js{{"nqn", s.nqn},       {"serial", s.serial}, {"model", s.model},
                {"allow_any_host", s.allow_any_host}, {"hosts", s.hosts}, {"max_namespaces", s.max_namespaces},
                {"min_cntlid", s.min_cntlid}, {"max_cntlid", s.max_cntlid}};
        // Only when kernel-served: files of nvmfd-served exports stay as they were.
        if (s.data_path != DataPath::Nvmfd) js["data_path"] = data_path_name(s.data_path);
        if (!s.passthru_device.empty()) js["passthru_device"] = s.passthru_device;
        if (!s.host_auth.empty()) {
            json& ha = js["host_auth"] = json::object();
            for (const auto& [host, a] : s.host_auth) {
                json keys = json::array();
                if (a.dhchap_secret.set) keys.push_back("dhchap_secret");
                if (a.dhchap_ctrl_secret.set) keys.push_back("dhchap_ctrl_secret");
                if (a.tls_psk.set) keys.push_back("tls_psk");
                ha[host] = {{"keys", keys}, {"dhchap_digests", a.dhchap_digests}, {"dhchap_groups", a.dhchap_groups}};
            }
        }
        js["namespaces"] = json::array();
        for (const auto& ns : s.namespaces) {
            js["namespaces"].push_back({{"nsid", ns.nsid},
                                        {"backend", ns.backend},
                                        {"params", params_to_json(ns.params)},
                                        {"uuid", ns.uuid},
                                        {"nguid", ns.nguid},
                                        {"ana_group", ns.ana_group},
                                        {"visible_to", ns.visible_to}});
        }
        j["subsystems"].push_back(std::move(js));
    }
    j["ports"] = json::array();
    for (const auto& p : spec.ports) {
        json states = json::object();
        for (const auto& [g, st] : p.ana_states) states[std::to_string(g)] = target::ana_state_name(st);
        j["ports"].push_back({{"id", p.id},
                              {"transport", p.transport},
                              {"family", p.family},
                              {"address", p.address},
                              {"service", p.service},
                              {"params", params_to_json(p.params)},
                              {"subsystems", p.subsystems},
                              {"ana_states", states}});
        // Only when set: a file without it stays readable by an nvmfd that predates TLS.
        if (p.secure_channel != plugin::SecureChannel::None)
            j["ports"].back()["secure_channel"] = secure_channel_name(p.secure_channel);
        if (p.data_path != DataPath::Nvmfd) j["ports"].back()["data_path"] = data_path_name(p.data_path);
    }
    // Only when there are some: a file without policies stays readable by
    // an nvmfd that predates them.
    if (!spec.policies.empty()) {
        j["policies"] = json::array();
        for (const auto& p : spec.policies)
            j["policies"].push_back({{"name", p.name}, {"source", p.source}, {"file", p.file}, {"params", p.params}});
    }
    return j;
}

Result<ExportSpec> from_json(const json& j) {
    Reader r(j, "");
    TRY(r.only_keys({"version", "ana_groups", "subsystems", "ports", "policies"}));
    uint64_t version;
    TRY_ASSIGN(version, r.number("version", true, 0, 1000));
    if (version != kStateFormatVersion)
        return make_error(ErrorCode::InvalidArgument,
                          fmt::format("format version {} is not supported (this nvmfd reads version {})", version,
                                      kStateFormatVersion),
                          "version");
    ExportSpec spec;
    spec.ana_groups.clear();
    if (r.has("ana_groups")) {
        const json& g = j.at("ana_groups");
        if (!g.is_array()) return make_error(ErrorCode::InvalidArgument, "must be a list of group ids", "ana_groups");
        for (size_t i = 0; i < g.size(); ++i) {
            if (!g[i].is_number_integer() || g[i].get<int64_t>() <= 0 || g[i].get<int64_t>() > 0xffffffff)
                return make_error(ErrorCode::InvalidArgument, "must be a positive integer",
                                  fmt::format("ana_groups[{}]", i));
            spec.ana_groups.push_back(g[i].get<uint32_t>());
        }
    }
    TRY(read_list(r, "subsystems", read_subsystem, spec.subsystems));
    TRY(read_list(r, "ports", read_port, spec.ports));
    TRY(read_list(r, "policies", read_policy, spec.policies));
    return spec;
}

}  // namespace nvmfd::control
