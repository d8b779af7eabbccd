#include "dbus/access.hpp"

#include <algorithm>
#include <grp.h>
#include <pwd.h>
#include <unistd.h>
#include <vector>

#include <sdbus-c++/Error.h>
#include <sdbus-c++/Types.h>

#include "core/runtime/log.hpp"

namespace nvmfd::dbus {
namespace {

std::optional<gid_t> lookup_group(const std::string& name) {
    if (name.empty()) return std::nullopt;
    std::vector<char> buf(16384);
    group g{};
    group* found = nullptr;
    if (getgrnam_r(name.c_str(), &g, buf.data(), buf.size(), &found) != 0 || !found) return std::nullopt;
    return found->gr_gid;
}

std::string user_name(uid_t uid) {
    std::vector<char> buf(16384);
    passwd pw{};
    passwd* found = nullptr;
    if (getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) == 0 && found) return found->pw_name;
    return "uid " + std::to_string(uid);
}

// The user database's view of uid's groups: used when the bus does not
// report the connection's groups.
std::vector<gid_t> groups_of_user(uid_t uid) {
    std::vector<char> buf(16384);
    passwd pw{};
    passwd* found = nullptr;
    if (getpwuid_r(uid, &pw, buf.data(), buf.size(), &found) != 0 || !found) return {};
    int n = 64;
    std::vector<gid_t> groups(static_cast<size_t>(n));
    while (getgrouplist(found->pw_name, found->pw_gid, groups.data(), &n) < 0) groups.resize(size_t(n));
    groups.resize(size_t(n));
    return groups;
}

}  // namespace

AdminAccess::AdminAccess(sdbus::IConnection& connection, std::string admin_group)
    : bus_driver_(sdbus::createProxy(connection, "org.freedesktop.DBus", "/org/freedesktop/DBus")),
      group_(std::move(admin_group)),
      gid_(lookup_group(group_)) {
    if (!group_.empty() && !gid_)
        log::info("admin group '{}' does not exist; only root and this daemon's user may change the exports",
                  group_);
}

Result<AdminAccess::Caller> AdminAccess::caller(const std::string& sender) {
    std::map<std::string, sdbus::Variant> creds;
    try {
        bus_driver_->callMethod("GetConnectionCredentials")
            .onInterface("org.freedesktop.DBus")
            .withArguments(sender)
            .storeResultsTo(creds);
    } catch (const sdbus::Error& e) {
        return make_error(ErrorCode::PermissionDenied,
                          fmt::format("cannot tell who the caller is ({}), so the change is refused", e.getMessage()));
    }
    auto uid = creds.find("UnixUserID");
    if (uid == creds.end() || uid->second.peekValueType() != "u")
        return make_error(ErrorCode::PermissionDenied, "the bus did not report the caller's user; the change is refused");
    Caller c{uid->second.get<uint32_t>(), std::nullopt};
    if (auto g = creds.find("UnixGroupIDs"); g != creds.end() && g->second.peekValueType() == "au")
        c.groups = g->second.get<std::vector<uint32_t>>();
    return c;
}

bool AdminAccess::in_admin_group(const Caller& c) const {
    if (!gid_) return false;
    auto groups = c.groups ? *c.groups : groups_of_user(c.uid);
    return std::find(groups.begin(), groups.end(), *gid_) != groups.end();
}

Result<void> AdminAccess::check(const std::string& sender, std::string_view action) {
    auto c = caller(sender);
    if (!c) return nvmfd::unexpected(c.error());
    if (c->uid == 0 || c->uid == geteuid() || in_admin_group(*c)) return {};
    return make_error(ErrorCode::PermissionDenied,
                      gid_ ? fmt::format("{} may not {}: run as root or join group '{}'", user_name(c->uid), action,
                                         group_)
                           : fmt::format("{} may not {}: run as root (admin group '{}' does not exist on this system)",
                                         user_name(c->uid), action, group_));
}

}  // namespace nvmfd::dbus
