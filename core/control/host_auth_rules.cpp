#include "core/control/host_auth_rules.hpp"

#include <algorithm>

#include "core/auth/tls_psk.hpp"
#include "core/control/control_helpers.hpp"

namespace nvmfd::control::detail {

namespace {

Result<void> check_names(std::vector<std::string>& names, const std::string& field, bool digests) {
    for (const auto& n : names) {
        bool known = digests ? bool(auth::hash_by_name(n)) : bool(auth::dh_group_by_name(n));
        if (!known)
            return invalid(fmt::format("'{}' is not one of {}", n,
                                       digests ? "sha256, sha384, sha512"
                                               : "null, ffdhe2048, ffdhe3072, ffdhe4096, ffdhe6144, ffdhe8192"),
                           field);
    }
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    return {};
}

Result<void> check_secret(const SecretSpec& s, const std::string& field) {
    if (!s.set || s.text.empty()) return {};
    if (field.ends_with("tls_psk")) {
        // The parser the TLS handshake uses: hash 01 needs 32 bytes, 02 48.
        auto k = auth::parse_tls_psk(s.text);
        if (!k) return invalid(k.error().message, field);
        return {};
    }
    auto k = auth::DhchapSecret::parse(s.text, field);
    if (!k) return nvmfd::unexpected(k.error());
    return {};
}

void apply_secret(SecretSpec& s, const std::optional<std::string>& v) {
    if (!v) return;
    s.set = !v->empty();
    s.text = *v;
}

uint8_t mask_of(const std::vector<std::string>& names, bool digests, uint8_t all) {
    if (names.empty()) return all;
    uint8_t m = 0;
    for (const auto& n : names) {
        auto id = digests ? auth::hash_by_name(n) : auth::dh_group_by_name(n);
        if (id) m |= uint8_t(1u << *id);
    }
    return m;
}

}  // namespace

Result<void> check_host_auth(HostAuthSpec& a, const std::string& where) {
    TRY(check_secret(a.dhchap_secret, where + "dhchap_secret"));
    TRY(check_secret(a.dhchap_ctrl_secret, where + "dhchap_ctrl_secret"));
    TRY(check_secret(a.tls_psk, where + "tls_psk"));
    if (a.dhchap_ctrl_secret.set && !a.dhchap_secret.set)
        return invalid("bidirectional authentication needs the host's secret too (dhchap-secret)",
                       where + "dhchap_ctrl_secret");
    // The same key both ways would let anyone reflect a challenge back.
    if (a.dhchap_ctrl_secret.set && !a.dhchap_secret.text.empty() &&
        a.dhchap_ctrl_secret.text == a.dhchap_secret.text)
        return invalid("must differ from the host's secret", where + "dhchap_ctrl_secret");
    TRY(check_names(a.dhchap_digests, where + "dhchap_digests", true));
    TRY(check_names(a.dhchap_groups, where + "dhchap_groups", false));
    return {};
}

Result<void> update_host_auth(HostAuthSpec& a, const HostKeyUpdate& u) {
    HostAuthSpec next = a;
    apply_secret(next.dhchap_secret, u.dhchap_secret);
    apply_secret(next.dhchap_ctrl_secret, u.dhchap_ctrl_secret);
    apply_secret(next.tls_psk, u.tls_psk);
    // Removing the host's secret removes the controller's: it cannot stand alone.
    if (u.dhchap_secret && u.dhchap_secret->empty() && !u.dhchap_ctrl_secret) next.dhchap_ctrl_secret = {};
    if (u.dhchap_digests) next.dhchap_digests = *u.dhchap_digests;
    if (u.dhchap_groups) next.dhchap_groups = *u.dhchap_groups;
    // Field names as the admin typed them (nvmfctl options, D-Bus keys).
    auto r = check_host_auth(next, "");
    if (!r) {
        std::string f = r.error().field;
        std::replace(f.begin(), f.end(), '_', '-');
        return nvmfd::unexpected(Error{r.error().code, r.error().message, f});
    }
    a = std::move(next);
    return {};
}

HostKeyInfo host_key_info(const HostAuthSpec& a) {
    return HostKeyInfo{a.dhchap_secret.set,
                       a.dhchap_ctrl_secret.set,
                       a.tls_psk.set,
                       a.dhchap_secret.missing() || a.dhchap_ctrl_secret.missing() || a.tls_psk.missing(),
                       a.dhchap_digests,
                       a.dhchap_groups};
}

std::shared_ptr<const target::HostAuth> data_path_auth(const HostAuthSpec& a) {
    auto out = std::make_shared<target::HostAuth>();
    out->dhchap = a.dhchap_secret.set;
    out->tls_psk = a.tls_psk.text;
    if (a.dhchap_secret.missing() || a.dhchap_ctrl_secret.missing())
        out->problem = "its DH-HMAC-CHAP secret is named by the state file but missing from the secrets file";
    auto& st = out->dhchap_settings;
    if (!a.dhchap_secret.text.empty())
        if (auto k = auth::DhchapSecret::parse(a.dhchap_secret.text, "dhchap_secret"))
            st.host_key = std::make_shared<auth::DhchapSecret>(std::move(*k));
    if (!a.dhchap_ctrl_secret.text.empty())
        if (auto k = auth::DhchapSecret::parse(a.dhchap_ctrl_secret.text, "dhchap_ctrl_secret"))
            st.ctrl_key = std::make_shared<auth::DhchapSecret>(std::move(*k));
    if (out->dhchap && !st.host_key && out->problem.empty()) out->problem = "its DH-HMAC-CHAP secret cannot be used";
    st.hashes = mask_of(a.dhchap_digests, true, 0b1110);
    st.groups = mask_of(a.dhchap_groups, false, 0b111111);
    return out;
}

}  // namespace nvmfd::control::detail
