// The one layer through which nvmfd touches the kernel's nvmet configfs
// tree (issue 12; docs/kernel-offload-design.md): paths relative to a root
// (/sys/kernel/config/nvmet, or a fake tree in tests), one system call per
// operation, and every errno turned into an Error that says what was being
// done, where, and which field of the caller's request it is about.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/runtime/error.hpp"

namespace nvmfd::plugins::nvmet {

inline constexpr std::string_view kNvmetRoot = "/sys/kernel/config/nvmet";

// The system calls, behind an interface so that tests can put the kernel's
// refusals (EBUSY, EINVAL...) where a plain directory tree has none. Each
// returns 0 or an errno value; paths are absolute.
class ConfigfsOps {
public:
    virtual ~ConfigfsOps() = default;
    virtual int make_dir(const std::string& path) = 0;
    virtual int remove_dir(const std::string& path) = 0;
    // One write() of the whole value (configfs stores take a single write).
    virtual int write_attr(const std::string& path, std::string_view value) = 0;
    virtual int read_attr(const std::string& path, std::string& value) = 0;
    virtual int make_link(const std::string& target, const std::string& link) = 0;
    virtual int remove_link(const std::string& link) = 0;
    // Entry names, without "." and "..", in any order.
    virtual int list_dir(const std::string& path, std::vector<std::string>& names) = 0;
    virtual bool exists(const std::string& path) = 0;
};

std::unique_ptr<ConfigfsOps> system_configfs_ops();

// The kind of control error an errno from configfs is: EEXIST
// AlreadyExists; ENOENT, ENODEV, ENXIO NotFound; EBUSY, ENOTEMPTY,
// EADDRINUSE, EALREADY, EMFILE Busy; EINVAL, ERANGE, EDOM InvalidArgument;
// EACCES (nvmet: the port is enabled), EPERM PermissionDenied; anything
// else Io. EINVAL means many things to nvmet: callers check what they can
// before writing, so that the error names the reason.
ErrorCode error_code_for_errno(int err);

class Configfs {
public:
    explicit Configfs(std::string root = std::string(kNvmetRoot),
                      std::unique_ptr<ConfigfsOps> ops = system_configfs_ops());

    const std::string& root() const { return root_; }
    std::string path(std::string_view rel) const;

    // `rel` is relative to the root ("subsystems/NQN"); `field` names what
    // the caller's request said that this is about, for the error.
    Result<void> make_dir(std::string_view rel, std::string_view field = {});
    Result<void> remove_dir(std::string_view rel, std::string_view field = {});
    // Writes `value` and a newline, as `echo` does (every nvmet store accepts it).
    Result<void> write(std::string_view rel, std::string_view value, std::string_view field = {});
    // The attribute's text without its trailing newline.
    Result<std::string> read(std::string_view rel, std::string_view field = {}) const;
    // A symbolic link at `link_rel` to the directory `target_rel`, both
    // relative to the root (how hosts are allowed and subsystems put on ports).
    Result<void> link(std::string_view target_rel, std::string_view link_rel, std::string_view field = {});
    Result<void> unlink(std::string_view link_rel, std::string_view field = {});
    // The entries of a directory, sorted.
    Result<std::vector<std::string>> list(std::string_view rel, std::string_view field = {}) const;
    bool exists(std::string_view rel) const;

private:
    Error failure(std::string_view what, std::string_view rel, int err, std::string_view field) const;

    std::string root_;
    std::unique_ptr<ConfigfsOps> ops_;
};

}  // namespace nvmfd::plugins::nvmet
