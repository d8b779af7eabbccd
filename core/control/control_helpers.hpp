// Helpers shared by the control API's source files (not part of its
// interface): validation, sorted inserts, event construction.
#pragma once

#include <algorithm>
#include <cctype>
#include <chrono>
#include <fmt/format.h>
#include <openssl/rand.h>
#include <string>
#include <string_view>
#include <vector>

#include "core/control/events.hpp"
#include "core/control/export_spec.hpp"
#include "core/control/secure_channel.hpp"
#include "core/runtime/error.hpp"
#include "core/target/nqn.hpp"

namespace nvmfd::control::detail {

constexpr uint32_t kMaxNamespacesLimit = 4096;
constexpr auto kDrainTimeout = std::chrono::seconds(30);

inline nvmfd::unexpected<Error> invalid(std::string msg, std::string field) {
    return make_error(ErrorCode::InvalidArgument, std::move(msg), std::move(field));
}

// 1 <= min <= max <= 0xFFEF (0xFFF0 and above are reserved, 0xFFFF asks for a dynamic ID).
inline Result<void> check_cntlid_range(uint32_t min, uint32_t max, const std::string& where) {
    constexpr uint32_t kLast = 0xffef;
    if (min < 1 || min > kLast)
        return invalid(fmt::format("must be 1 to {}, not {}", kLast, min), where + "min_cntlid");
    if (max < min || max > kLast)
        return invalid(fmt::format("must be {} (min_cntlid) to {}, not {}", min, kLast, max), where + "max_cntlid");
    return {};
}

// What a transport plugin is told about a port.
inline plugin::PortConfig port_config(const PortSpec& p) {
    return plugin::PortConfig{p.id, p.transport, p.family, p.address, p.service, p.params, p.secure_channel};
}

// TLS is defined for NVMe/TCP only (TP 8011).
inline Result<void> check_secure_channel(const PortSpec& p, const std::string& field) {
    if (p.secure_channel != plugin::SecureChannel::None && p.transport != "tcp")
        return invalid(fmt::format("secure channel '{}' needs the tcp transport (TLS is defined for NVMe/TCP only), "
                                   "not '{}'",
                                   secure_channel_name(p.secure_channel), p.transport),
                       field);
    return {};
}

inline Result<void> check_nqn(const std::string& nqn, const std::string& field) {
    if (auto problem = target::nqn_problem(nqn)) return invalid(fmt::format("'{}': {}", nqn, *problem), field);
    return {};
}

inline Result<void> check_printable(const std::string& s, size_t max, const std::string& field) {
    if (s.empty()) return invalid("must not be empty", field);
    if (s.size() > max) return invalid(fmt::format("must be at most {} characters", max), field);
    for (unsigned char c : s)
        if (c < 0x20 || c > 0x7e) return invalid("must be printable ASCII", field);
    return {};
}

// Policy names become D-Bus object path parts and log prefixes.
inline Result<void> check_policy_name(const std::string& name, const std::string& field) {
    if (name.empty() || name.size() > 64) return invalid("must be 1 to 64 characters", field);
    for (unsigned char c : name)
        if (!std::isalnum(c) && c != '_' && c != '.' && c != '-')
            return invalid(fmt::format("'{}': only letters, digits, '_', '.' and '-' are allowed", name), field);
    return {};
}

// The parser quotes the bytes it stopped at; from a garbage file those are
// binary, which would turn the whole message into a blob in the journal.
inline std::string printable(std::string_view s) {
    std::string out;
    for (unsigned char c : s) out += (c >= 0x20 && c < 0x7f) ? char(c) : '?';
    return out;
}

inline std::string random_serial() {
    uint8_t b[8];
    RAND_bytes(b, sizeof b);
    std::string s;
    for (uint8_t x : b) s += fmt::format("{:02x}", x);
    return s;
}

template <typename T, typename Key>
void insert_sorted(std::vector<T>& v, T item, Key key) {
    auto it = std::lower_bound(v.begin(), v.end(), item, [&](const T& a, const T& b) { return key(a) < key(b); });
    v.insert(it, std::move(item));
}

inline void insert_sorted_string(std::vector<std::string>& v, const std::string& s) {
    v.insert(std::lower_bound(v.begin(), v.end(), s), s);
}

inline bool contains(const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
}

inline Event make_event(EventKind kind, std::string subsystem = {}, uint32_t nsid = 0, uint16_t port = 0,
                 uint32_t group = 0, std::string detail = {}) {
    return Event{kind, std::move(subsystem), nsid, port, group, 0, std::move(detail)};
}

inline std::string ns_label(const std::string& nqn, uint32_t nsid) { return fmt::format("namespace {} of {}", nsid, nqn); }

}  // namespace nvmfd::control::detail

// Return the error of a Result<...> expression from the enclosing function.
#define TRY(expr)                                               \
    do {                                                        \
        auto _r = (expr);                                       \
        if (!_r) return nvmfd::unexpected(std::move(_r.error())); \
    } while (0)
