#include "plugins/nvmet_configfs/configfs.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace nvmfd::plugins::nvmet {
namespace {

int errno_of(int rc) { return rc == 0 ? 0 : errno; }

class SystemOps final : public ConfigfsOps {
public:
    int make_dir(const std::string& path) override { return errno_of(::mkdir(path.c_str(), 0755)); }
    int remove_dir(const std::string& path) override { return errno_of(::rmdir(path.c_str())); }
    int write_attr(const std::string& path, std::string_view value) override {
        int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
        if (fd < 0) return errno;
        ssize_t n = ::write(fd, value.data(), value.size());
        int err = n < 0 ? errno : (size_t(n) == value.size() ? 0 : EIO);
        ::close(fd);
        return err;
    }
    int read_attr(const std::string& path, std::string& value) override {
        int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) return errno;
        value.clear();
        char buf[4096];  // configfs attributes hold at most a page
        for (;;) {
            ssize_t n = ::read(fd, buf, sizeof buf);
            if (n < 0) {
                if (errno == EINTR) continue;
                int err = errno;
                ::close(fd);
                return err;
            }
            if (n == 0) break;
            value.append(buf, size_t(n));
        }
        ::close(fd);
        return 0;
    }
    int make_link(const std::string& target, const std::string& link) override {
        return errno_of(::symlink(target.c_str(), link.c_str()));
    }
    int remove_link(const std::string& link) override { return errno_of(::unlink(link.c_str())); }
    int list_dir(const std::string& path, std::vector<std::string>& names) override {
        DIR* d = ::opendir(path.c_str());
        if (!d) return errno;
        names.clear();
        while (dirent* e = ::readdir(d)) {
            std::string_view n = e->d_name;
            if (n != "." && n != "..") names.emplace_back(n);
        }
        ::closedir(d);
        return 0;
    }
    bool exists(const std::string& path) override {
        struct stat st;
        return ::lstat(path.c_str(), &st) == 0;
    }
};

}  // namespace

std::unique_ptr<ConfigfsOps> system_configfs_ops() { return std::make_unique<SystemOps>(); }

ErrorCode error_code_for_errno(int err) {
    switch (err) {
    case EEXIST: return ErrorCode::AlreadyExists;
    case ENOENT:
    case ENODEV: return ErrorCode::NotFound;
    case EBUSY:
    case ENOTEMPTY:     // children left
    case EADDRINUSE:    // another port serves that address
    case EALREADY:      // (FC: another port has that WWNN/WWPN)
    case EMFILE: return ErrorCode::Busy;  // (1024 namespaces enabled)
    case ENXIO: return ErrorCode::NotFound;  // (FC: no such local port)
    case EINVAL:
    case ERANGE:
    case EDOM: return ErrorCode::InvalidArgument;
    case EACCES:
    case EPERM: return ErrorCode::PermissionDenied;
    default: return ErrorCode::Io;
    }
}

Configfs::Configfs(std::string root, std::unique_ptr<ConfigfsOps> ops) : root_(std::move(root)), ops_(std::move(ops)) {
    while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
}

std::string Configfs::path(std::string_view rel) const {
    std::string p = root_;
    if (!rel.empty()) {
        p += '/';
        p += rel;
    }
    return p;
}

Error Configfs::failure(std::string_view what, std::string_view rel, int err, std::string_view field) const {
    return Error{error_code_for_errno(err), fmt::format("nvmet: {} {}: {}", what, rel, std::strerror(err)),
                 std::string(field)};
}

Result<void> Configfs::make_dir(std::string_view rel, std::string_view field) {
    if (int err = ops_->make_dir(path(rel))) return nvmfd::unexpected(failure("creating", rel, err, field));
    return {};
}

Result<void> Configfs::remove_dir(std::string_view rel, std::string_view field) {
    if (int err = ops_->remove_dir(path(rel))) return nvmfd::unexpected(failure("removing", rel, err, field));
    return {};
}

Result<void> Configfs::write(std::string_view rel, std::string_view value, std::string_view field) {
    std::string line(value);
    line += '\n';
    if (int err = ops_->write_attr(path(rel), line))
        return nvmfd::unexpected(failure(fmt::format("writing '{}' to", value), rel, err, field));
    return {};
}

Result<std::string> Configfs::read(std::string_view rel, std::string_view field) const {
    std::string value;
    if (int err = ops_->read_attr(path(rel), value)) return nvmfd::unexpected(failure("reading", rel, err, field));
    while (!value.empty() && value.back() == '\n') value.pop_back();
    return value;
}

Result<void> Configfs::link(std::string_view target_rel, std::string_view link_rel, std::string_view field) {
    if (int err = ops_->make_link(path(target_rel), path(link_rel)))
        return nvmfd::unexpected(failure(fmt::format("linking {} as", target_rel), link_rel, err, field));
    return {};
}

Result<void> Configfs::unlink(std::string_view link_rel, std::string_view field) {
    if (int err = ops_->remove_link(path(link_rel))) return nvmfd::unexpected(failure("unlinking", link_rel, err, field));
    return {};
}

Result<std::vector<std::string>> Configfs::list(std::string_view rel, std::string_view field) const {
    std::vector<std::string> names;
    if (int err = ops_->list_dir(path(rel), names)) return nvmfd::unexpected(failure("listing", rel, err, field));
    std::sort(names.begin(), names.end());
    return names;
}

bool Configfs::exists(std::string_view rel) const { return ops_->exists(path(rel)); }

}  // namespace nvmfd::plugins::nvmet
