#include "core/target/tls_keys.hpp"

#include "core/auth/tls_psk.hpp"
#include "core/proto/fabrics.hpp"

namespace nvmfd::target {

std::optional<std::string> host_tls_key(const Subsystem& sub, const std::string& hostnqn) {
    // Only a host the subsystem still allows; a key the configuration names
    // but the secrets file lacks gives no PSK (HostAuth::problem).
    const HostAuth* a = sub.host_allowed(hostnqn) ? sub.auth_for(hostnqn) : nullptr;
    if (!a || a->tls_psk.empty()) return std::nullopt;
    return a->tls_psk;
}

Result<plugin::TlsPsk> find_tls_psk(const TargetSnapshot& snap, uint16_t port_id, std::string_view identity) {
    auto id = auth::parse_psk_identity(identity);
    if (!id) return nvmfd::unexpected(id.error());
    const Port* port = snap.find_port(port_id);
    if (!port) return make_error(ErrorCode::NotFound, "the port is gone");
    std::optional<std::string> key;
    if (id->subnqn == proto::kDiscoveryNqn) {
        for (const auto& nqn : port->subsystems)
            if (const Subsystem* sub = snap.find_subsystem(nqn); sub && (key = host_tls_key(*sub, id->hostnqn))) break;
    } else {
        const Subsystem* sub = snap.find_subsystem(id->subnqn);
        if (!sub) return make_error(ErrorCode::NotFound, "no such subsystem");
        if (!port->exposes(id->subnqn)) return make_error(ErrorCode::NotFound, "the subsystem is not on this port");
        key = host_tls_key(*sub, id->hostnqn);
    }
    if (!key) return make_error(ErrorCode::NotFound, "the host has no TLS PSK on the subsystem");
    auto candidates = auth::tls_psk_candidates(*id, *key);
    if (!candidates) return nvmfd::unexpected(candidates.error());
    plugin::TlsPsk psk;
    auto& first = candidates->front();
    psk.key.assign(first.psk.bytes().begin(), first.psk.bytes().end());
    psk.derivation = auth::derivation_name(first.derivation);
    psk.standard = first.derivation == auth::PskDerivation::Rfc8446;
    psk.sha384 = id->hash == auth::PskHash::Sha384;
    for (size_t i = 1; i < candidates->size(); ++i) {
        auto& c = (*candidates)[i];
        psk.alternatives.push_back({{c.psk.bytes().begin(), c.psk.bytes().end()},
                                    std::string(auth::derivation_name(c.derivation))});
    }
    return psk;
}

}  // namespace nvmfd::target
