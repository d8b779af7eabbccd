#include "dbus/call_options.hpp"

#include <algorithm>
#include <initializer_list>

#include "core/control/data_path.hpp"
#include "core/control/secure_channel.hpp"

namespace nvmfd::dbus {
namespace {

nvmfd::unexpected<Error> wrong_type(const std::string& key, const char* what, const char* type, const std::string& got) {
    return make_error(ErrorCode::InvalidArgument,
                      fmt::format("must be {} (D-Bus type '{}'), not type '{}'", what, type, got), key);
}

class Reader {
public:
    explicit Reader(const Options& o) : o_(o) {}

    Result<void> only(std::initializer_list<const char*> keys) const {
        for (const auto& entry : o_) {
            const std::string& k = entry.first;  // not a structured binding: clang 14 cannot capture one
            if (std::any_of(keys.begin(), keys.end(), [&](const char* known) { return k == known; })) continue;
            std::string list;
            for (const char* known : keys) list += (list.empty() ? "" : ", ") + std::string(known);
            return make_error(ErrorCode::InvalidArgument, fmt::format("unknown option; known options: {}", list), k);
        }
        return {};
    }

    const sdbus::Variant* find(const char* key) const {
        auto it = o_.find(key);
        return it == o_.end() ? nullptr : &it->second;
    }

    Result<std::optional<std::string>> string(const char* key) const {
        const auto* v = find(key);
        if (!v) return std::optional<std::string>{};
        if (v->peekValueType() != "s") return wrong_type(key, "a string", "s", v->peekValueType());
        return std::optional<std::string>(v->get<std::string>());
    }

    Result<std::optional<control::DataPath>> data_path(const char* key) const {
        auto name = string(key);
        if (!name) return nvmfd::unexpected(std::move(name.error()));
        if (!*name) return std::optional<control::DataPath>{};
        auto p = control::parse_data_path(**name);
        if (!p)
            return make_error(ErrorCode::InvalidArgument, fmt::format("'{}' is not nvmfd or kernel", **name), key);
        return std::optional<control::DataPath>(*p);
    }

    Result<std::optional<bool>> boolean(const char* key) const {
        const auto* v = find(key);
        if (!v) return std::optional<bool>{};
        if (v->peekValueType() != "b") return wrong_type(key, "a boolean", "b", v->peekValueType());
        return std::optional<bool>(v->get<bool>());
    }

    Result<std::optional<uint64_t>> integer(const char* key, uint64_t max) const {
        const auto* v = find(key);
        if (!v) return std::optional<uint64_t>{};
        std::string t = v->peekValueType();
        int64_t signed_value = 0;
        uint64_t value = 0;
        if (t == "y") value = v->get<uint8_t>();
        else if (t == "q") value = v->get<uint16_t>();
        else if (t == "u") value = v->get<uint32_t>();
        else if (t == "t") value = v->get<uint64_t>();
        else if (t == "n" || t == "i" || t == "x") {
            signed_value = t == "n" ? v->get<int16_t>() : t == "i" ? v->get<int32_t>() : v->get<int64_t>();
            if (signed_value < 0)
                return make_error(ErrorCode::InvalidArgument, fmt::format("must be 0 to {}", max), key);
            value = uint64_t(signed_value);
        } else {
            return wrong_type(key, "an unsigned integer", "u", t);
        }
        if (value > max) return make_error(ErrorCode::InvalidArgument, fmt::format("must be 0 to {}", max), key);
        return std::optional<uint64_t>(value);
    }

    Result<std::optional<std::vector<std::string>>> strings(const char* key) const {
        const auto* v = find(key);
        if (!v) return std::optional<std::vector<std::string>>{};
        if (v->peekValueType() != "as") return wrong_type(key, "a list of strings", "as", v->peekValueType());
        return std::optional<std::vector<std::string>>(v->get<std::vector<std::string>>());
    }

    Result<std::optional<plugin::Params>> params(const char* key) const {
        const auto* v = find(key);
        if (!v) return std::optional<plugin::Params>{};
        if (v->peekValueType() != "a{ss}") return wrong_type(key, "a map of strings to strings", "a{ss}", v->peekValueType());
        auto m = v->get<std::map<std::string, std::string>>();
        return std::optional<plugin::Params>(plugin::Params(m.begin(), m.end()));
    }

private:
    const Options& o_;
};

#define TRY_ASSIGN(lhs, expr)                                   \
    do {                                                        \
        auto _r = (expr);                                       \
        if (!_r) return nvmfd::unexpected(std::move(_r.error())); \
        lhs = std::move(*_r);                                   \
    } while (0)

}  // namespace

Result<control::SubsystemSettings> subsystem_settings(const Options& options, SubsystemCall call) {
    Reader r(options);
    control::SubsystemSettings s;
    if (auto ok = r.only({"data_path", "passthru_device", "serial", "model", "allow_any_host", "max_namespaces",
                          "min_cntlid", "max_cntlid"});
        !ok)
        return nvmfd::unexpected(ok.error());
    TRY_ASSIGN(s.data_path, r.data_path("data_path"));
    if (s.data_path && call == SubsystemCall::Set)
        return make_error(ErrorCode::InvalidArgument,
                          "is chosen when the subsystem is added and cannot change; remove the subsystem and add it "
                          "again with the other data path",
                          "data_path");
    TRY_ASSIGN(s.passthru_device, r.string("passthru_device"));
    TRY_ASSIGN(s.serial, r.string("serial"));
    TRY_ASSIGN(s.model, r.string("model"));
    TRY_ASSIGN(s.allow_any_host, r.boolean("allow_any_host"));
    std::optional<uint64_t> max;
    TRY_ASSIGN(max, r.integer("max_namespaces", UINT32_MAX));
    if (max) s.max_namespaces = uint32_t(*max);
    // The range itself (1 <= min <= max <= 0xFFEF) is the control API's check.
    TRY_ASSIGN(max, r.integer("min_cntlid", UINT16_MAX));
    if (max) s.min_cntlid = uint16_t(*max);
    TRY_ASSIGN(max, r.integer("max_cntlid", UINT16_MAX));
    if (max) s.max_cntlid = uint16_t(*max);
    return s;
}

Result<control::HostKeyUpdate> host_key_update(const Options& options, bool* disconnect) {
    Reader r(options);
    control::HostKeyUpdate u;
    auto ok = disconnect ? r.only({"dhchap-secret", "dhchap-ctrl-secret", "tls-psk", "dhchap-digests", "dhchap-groups",
                                   "disconnect"})
                         : r.only({"dhchap-secret", "dhchap-ctrl-secret", "tls-psk", "dhchap-digests", "dhchap-groups"});
    if (!ok) return nvmfd::unexpected(ok.error());
    TRY_ASSIGN(u.dhchap_secret, r.string("dhchap-secret"));
    TRY_ASSIGN(u.dhchap_ctrl_secret, r.string("dhchap-ctrl-secret"));
    TRY_ASSIGN(u.tls_psk, r.string("tls-psk"));
    TRY_ASSIGN(u.dhchap_digests, r.strings("dhchap-digests"));
    TRY_ASSIGN(u.dhchap_groups, r.strings("dhchap-groups"));
    if (disconnect) {
        std::optional<bool> d;
        TRY_ASSIGN(d, r.boolean("disconnect"));
        *disconnect = d.value_or(false);
    }
    return u;
}

Result<void> read_namespace_options(const Options& options, control::NamespaceSettings& into) {
    Reader r(options);
    if (auto ok = r.only({"nsid", "ana_group", "visible_to", "uuid", "nguid"}); !ok) return ok;
    std::optional<uint64_t> n;
    TRY_ASSIGN(n, r.integer("nsid", 0xfffffffe));
    if (n) into.nsid = uint32_t(*n);
    TRY_ASSIGN(n, r.integer("ana_group", UINT32_MAX));
    if (n) into.ana_group = uint32_t(*n);
    std::optional<std::vector<std::string>> hosts;
    TRY_ASSIGN(hosts, r.strings("visible_to"));
    if (hosts) into.visible_to = *hosts;
    std::optional<std::string> s;
    TRY_ASSIGN(s, r.string("uuid"));
    if (s) into.uuid = *s;
    TRY_ASSIGN(s, r.string("nguid"));
    if (s) into.nguid = *s;
    return {};
}

Result<void> read_port_options(const Options& options, control::PortSettings& into) {
    Reader r(options);
    if (auto ok = r.only({"id", "data_path", "family", "params", "secure_channel"}); !ok) return ok;
    std::optional<uint64_t> id;
    TRY_ASSIGN(id, r.integer("id", 0xffff));
    if (id) into.id = uint16_t(*id);
    std::optional<control::DataPath> data_path;
    TRY_ASSIGN(data_path, r.data_path("data_path"));
    if (data_path) into.data_path = *data_path;
    std::optional<std::string> family;
    TRY_ASSIGN(family, r.string("family"));
    if (family) into.family = *family;
    std::optional<plugin::Params> params;
    TRY_ASSIGN(params, r.params("params"));
    if (params) into.params = *params;
    std::optional<std::string> secure;
    TRY_ASSIGN(secure, r.string("secure_channel"));
    if (secure) {
        auto sc = control::parse_secure_channel(*secure);
        if (!sc)
            return make_error(ErrorCode::InvalidArgument,
                              fmt::format("'{}' is not none, allowed or required", *secure), "secure_channel");
        into.secure_channel = *sc;
    }
    return {};
}

}  // namespace nvmfd::dbus
