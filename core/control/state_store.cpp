#include "core/control/state_store.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace nvmfd::control {
namespace {

nvmfd::unexpected<Error> io_error(const std::string& what, const std::filesystem::path& p, int err) {
    return make_error(ErrorCode::Io, fmt::format("{} {}: {}", what, p.string(), std::strerror(err)));
}

}  // namespace

Result<std::optional<std::string>> StateStore::read() const {
    int fd = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return std::optional<std::string>{};
        return io_error("cannot open", path_, errno);
    }
    std::string out;
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            ::close(fd);
            return io_error("cannot read", path_, e);
        }
        if (n == 0) break;
        out.append(buf, size_t(n));
    }
    ::close(fd);
    return std::optional<std::string>(std::move(out));
}

Result<void> StateStore::write(const std::string& contents) const {
    // First start on a fresh machine: make the state directory, private
    // because the state names hosts and backing files.
    auto dir = path_.parent_path();
    std::error_code ec;
    if (!dir.empty() && !std::filesystem::exists(dir, ec)) {
        std::filesystem::create_directories(dir, ec);
        if (ec) return make_error(ErrorCode::Io, fmt::format("cannot create {}: {}", dir.string(), ec.message()));
        std::filesystem::permissions(dir, std::filesystem::perms::owner_all, ec);
    }
    auto backup = backup_path();
    return write_atomically(path_, contents, &backup);
}

Result<void> StateStore::write_atomically(const std::filesystem::path& path, const std::string& contents,
                                          const std::filesystem::path* keep_previous_as) {
    auto dir = path.parent_path().empty() ? std::filesystem::path(".") : path.parent_path();
    auto tmp = std::filesystem::path(path.string() + ".tmp");
    // The temp file must be one we just created: a leftover from a crash is
    // removed (unlink removes a symlink itself, never what it points to),
    // and O_EXCL | O_NOFOLLOW refuses anything that appears there meanwhile,
    // so a planted symlink can neither redirect the write nor become the
    // state file.
    if (::unlink(tmp.c_str()) != 0 && errno != ENOENT) return io_error("cannot remove stale", tmp, errno);
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) return io_error("cannot create", tmp, errno);
    size_t off = 0;
    while (off < contents.size()) {
        ssize_t n = ::write(fd, contents.data() + off, contents.size() - off);
        if (n < 0) {
            if (errno == EINTR) continue;
            int e = errno;
            ::close(fd);
            ::unlink(tmp.c_str());
            return io_error("cannot write", tmp, e);
        }
        off += size_t(n);
    }
    if (::fsync(fd) != 0) {
        int e = errno;
        ::close(fd);
        ::unlink(tmp.c_str());
        return io_error("cannot sync", tmp, e);
    }
    ::close(fd);
    if (keep_previous_as) {
        // A hard link keeps the old version without a moment with no state file at all.
        auto bak_tmp = std::filesystem::path(keep_previous_as->string() + ".tmp");
        ::unlink(bak_tmp.c_str());
        if (::link(path.c_str(), bak_tmp.c_str()) == 0) ::rename(bak_tmp.c_str(), keep_previous_as->c_str());
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        int e = errno;
        ::unlink(tmp.c_str());
        return io_error("cannot replace", path, e);
    }
    int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        ::fsync(dfd);
        ::close(dfd);
    }
    return {};
}

}  // namespace nvmfd::control
