// The control API for hosts' authentication keys (DH-HMAC-CHAP, TLS PSK).
// Secrets go to the secrets file, never to the state file or the log.
#include <algorithm>

#include "core/control/control.hpp"
#include "core/control/control_helpers.hpp"
#include "core/control/host_auth_rules.hpp"
#include "core/runtime/log.hpp"

namespace nvmfd::control {

using namespace detail;

namespace {

Result<void> need_allowed(const SubsystemSpec& s, const std::string& hostnqn) {
    if (!std::binary_search(s.hosts.begin(), s.hosts.end(), hostnqn))
        return make_error(ErrorCode::NotFound,
                          fmt::format("host '{}' is not on the allowed list of '{}' (keys belong to allowed hosts: "
                                      "nvmfctl host allow)",
                                      hostnqn, s.nqn),
                          "host");
    return {};
}

}  // namespace

Result<void> Control::set_host_keys(const std::string& nqn, const std::string& hostnqn, const HostKeyUpdate& keys,
                                    bool disconnect) {
    std::lock_guard lock(mutex_);
    TRY(need_subsystem(nqn));
    ExportSpec next = spec_;
    auto& s = *std::find_if(next.subsystems.begin(), next.subsystems.end(), [&](auto& x) { return x.nqn == nqn; });
    TRY(need_allowed(s, hostnqn));
    HostAuthSpec a = s.host_auth.count(hostnqn) ? s.host_auth[hostnqn] : HostAuthSpec{};
    TRY(update_host_auth(a, keys));
    if (a.empty())
        s.host_auth.erase(hostnqn);
    else
        s.host_auth[hostnqn] = std::move(a);
    TRY(persist(next));
    spec_ = std::move(next);
    publish(false);
    log::info("authentication settings of host {} on {} changed", hostnqn, nqn);
    if (disconnect)
        for (auto& c : target_.controllers().of_subsystem(nqn))
            if (c->identity().hostnqn == hostnqn) c->shut_down("host keys changed");
    emit(make_event(EventKind::SubsystemChanged, nqn, 0, 0, 0, hostnqn));
    return {};
}

Result<HostKeyInfo> Control::host_keys(const std::string& nqn, const std::string& hostnqn) const {
    std::lock_guard lock(mutex_);
    auto it = std::find_if(spec_.subsystems.begin(), spec_.subsystems.end(), [&](auto& x) { return x.nqn == nqn; });
    if (it == spec_.subsystems.end())
        return make_error(ErrorCode::NotFound, fmt::format("no subsystem '{}'", nqn), "nqn");
    TRY(need_allowed(*it, hostnqn));
    auto a = it->host_auth.find(hostnqn);
    return a == it->host_auth.end() ? HostKeyInfo{} : host_key_info(a->second);
}

}  // namespace nvmfd::control
