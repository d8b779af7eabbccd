// Who may change the exports over D-Bus: root, the user the daemon runs as
// (it could change the state file anyway) and members of the admin group.
// Reads are open to everyone. The caller's uid and groups come from the bus
// driver (GetConnectionCredentials: the bus read them from the socket), not
// from /proc, so a caller cannot swap its process to look privileged.
// The D-Bus policy file (systemd/org.nvmfd.conf) says the same on the system
// bus; this check also covers buses without that policy.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <sys/types.h>

#include <sdbus-c++/IConnection.h>
#include <sdbus-c++/IProxy.h>

#include "core/runtime/error.hpp"

namespace nvmfd::dbus {

class AdminAccess {
public:
    AdminAccess(sdbus::IConnection& connection, std::string admin_group);

    // PermissionDenied naming the user and what would allow it, unless the
    // sender (a unique bus name) may change things.
    // `action` completes "USER may not ..." in the refusal.
    Result<void> check(const std::string& sender, std::string_view action = "change nvmfd's exports");
    const std::string& admin_group() const { return group_; }

private:
    struct Caller {
        uid_t uid;
        std::optional<std::vector<gid_t>> groups;  // when the bus reports them
    };
    Result<Caller> caller(const std::string& sender);
    bool in_admin_group(const Caller& c) const;

    std::unique_ptr<sdbus::IProxy> bus_driver_;
    std::string group_;
    std::optional<gid_t> gid_;
};

}  // namespace nvmfd::dbus
