#include "plugins/backend_uring/device_open.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <sstream>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <vector>

#include "core/runtime/log.hpp"

namespace nvmfd::plugins::uring {
namespace {

namespace fs = std::filesystem;

constexpr const char* kKnownKeys = "path, size, create, block_size, direct, read_only";

std::string errno_text(int e) { return std::strerror(e); }

bool valid_block_size(uint64_t bs) { return bs == 512 || bs == 4096; }

// --- sysfs and procfs ---

std::optional<std::string> read_first_line(const fs::path& p) {
    std::ifstream in(p);
    std::string line;
    if (!in || !std::getline(in, line)) return std::nullopt;
    return line;
}

std::optional<uint64_t> read_u64(const fs::path& p) {
    auto line = read_first_line(p);
    if (!line) return std::nullopt;
    auto v = plugin::parse_uint(*line, "");
    if (!v) return std::nullopt;
    return *v;
}

fs::path sysfs_dir(dev_t dev) { return fmt::format("/sys/dev/block/{}:{}", major(dev), minor(dev)); }

// The request queue of a disk; a partition shares its disk's.
fs::path queue_dir(dev_t dev) {
    std::error_code ec;
    fs::path d = fs::canonical(sysfs_dir(dev), ec);
    if (ec) return {};
    if (fs::exists(d / "partition", ec)) d = d.parent_path();
    return d / "queue";
}

// A mounted, swapped-on or stacked device (or one with such a partition)
// is not ours to export: writes through the namespace would corrupt it.
Result<void> check_not_in_use(const std::string& path, dev_t rdev) {
    std::vector<dev_t> devs{rdev};
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(sysfs_dir(rdev), ec)) {
        std::error_code ec2;
        if (!fs::exists(entry.path() / "partition", ec2)) continue;
        if (auto d = read_first_line(entry.path() / "dev")) {
            unsigned ma = 0, mi = 0;
            if (std::sscanf(d->c_str(), "%u:%u", &ma, &mi) == 2) devs.push_back(makedev(ma, mi));
        }
    }
    auto ours = [&](dev_t d) { return std::find(devs.begin(), devs.end(), d) != devs.end(); };

    std::ifstream mounts("/proc/self/mountinfo");
    for (std::string line; std::getline(mounts, line);) {
        std::istringstream fields(line);
        std::string id, parent, majmin, root, mountpoint;
        fields >> id >> parent >> majmin >> root >> mountpoint;
        unsigned ma = 0, mi = 0;
        if (std::sscanf(majmin.c_str(), "%u:%u", &ma, &mi) == 2 && ours(makedev(ma, mi)))
            return make_error(ErrorCode::Busy,
                              fmt::format("{} (or a partition of it) is mounted on {}; unmount it first", path,
                                          mountpoint),
                              "path");
    }
    std::ifstream swaps("/proc/swaps");
    std::string line;
    std::getline(swaps, line);  // header
    while (std::getline(swaps, line)) {
        std::string swap_path = line.substr(0, line.find_first_of(" \t"));
        struct stat st{};
        if (::stat(swap_path.c_str(), &st) == 0 && S_ISBLK(st.st_mode) && ours(st.st_rdev))
            return make_error(ErrorCode::Busy, fmt::format("{} (or a partition of it) is in use as swap", path),
                              "path");
    }
    for (dev_t d : devs) {
        for (const auto& holder : fs::directory_iterator(sysfs_dir(d) / "holders", ec))
            return make_error(ErrorCode::Busy,
                              fmt::format("{} is held by {} (device-mapper, md or similar); free it first", path,
                                          holder.path().filename().string()),
                              "path");
    }
    return {};
}

// --- geometry and capabilities ---

Result<void> setup_block_device(DeviceState& dev, int fd, const UringOptions& o) {
    dev.block_device = true;
    if (o.size)
        return make_error(ErrorCode::InvalidArgument,
                          fmt::format("{} is a block device: the namespace has the device's size, size applies to "
                                      "files only",
                                      dev.path),
                          "size");
    uint64_t bytes = 0;
    int logical = 0, ro = 0;
    if (::ioctl(fd, BLKGETSIZE64, &bytes) != 0 || ::ioctl(fd, BLKSSZGET, &logical) != 0)
        return make_error(ErrorCode::Io, fmt::format("cannot read the geometry of {}: {}", dev.path, errno_text(errno)),
                          "path");
    if (::ioctl(fd, BLKROGET, &ro) == 0 && ro && !o.read_only)
        return make_error(ErrorCode::PermissionDenied,
                          fmt::format("{} is read-only; set read_only=true to export it read-only", dev.path),
                          "read_only");
    uint32_t bs = o.block_size.value_or(static_cast<uint32_t>(logical));
    if (!valid_block_size(bs))
        return make_error(ErrorCode::InvalidArgument,
                          fmt::format("{} has {}-byte logical blocks; set block_size to 512 or 4096", dev.path, logical),
                          "block_size");
    dev.block_size = bs;
    dev.device_block_size = static_cast<uint32_t>(logical);
    dev.size = bytes / bs * bs;
    if (dev.size == 0)
        return make_error(ErrorCode::InvalidArgument,
                          fmt::format("{} ({} bytes) is smaller than one {}-byte block", dev.path, bytes, bs), "path");

    struct stat st{};
    ::fstat(fd, &st);
    fs::path q = queue_dir(st.st_rdev);
    if (!q.empty()) {
        dev.deallocate = !o.read_only && read_u64(q / "discard_max_bytes").value_or(0) > 0;
        // The kernel reports 0 here since 4.12 (discard may leave stale data);
        // we promise zeroes only when the device says so.
        dev.deallocated_reads_zero = dev.deallocate && read_u64(q / "discard_zeroes_data").value_or(0) == 1;
        dev.volatile_write_cache = read_first_line(q / "write_cache").value_or("write back") != "write through";
        uint64_t chunk = read_u64(q / "chunk_sectors").value_or(0) * 512;
        if (chunk && chunk % bs == 0 && chunk <= UINT32_MAX) dev.optimal_io_boundary = static_cast<uint32_t>(chunk);
    }
    // blkdev_issue_zeroout needs ranges aligned to the logical block size.
    dev.zero_method = bs < dev.device_block_size ? ZeroMethod::Write : ZeroMethod::ZeroRange;
    return {};
}

Result<void> setup_file(DeviceState& dev, int fd, const UringOptions& o, bool created) {
    uint32_t bs = o.block_size.value_or(512);
    dev.block_size = bs;
    struct stat st{};
    if (::fstat(fd, &st) != 0)
        return make_error(ErrorCode::Io, fmt::format("cannot stat {}: {}", dev.path, errno_text(errno)), "path");
    uint64_t bytes = static_cast<uint64_t>(st.st_size);
    if (o.size && bytes < *o.size) {
        if (o.read_only)
            return make_error(ErrorCode::InvalidArgument,
                              fmt::format("{} has {} bytes, less than size; a read-only namespace cannot extend it",
                                          dev.path, bytes),
                              "size");
        if (::ftruncate(fd, static_cast<off_t>(*o.size)) != 0)
            return make_error(ErrorCode::Io,
                              fmt::format("cannot {} {} to {} bytes: {}", created ? "size" : "extend", dev.path,
                                          *o.size, errno_text(errno)),
                              "size");
        if (!created) log::notice("{}: extended from {} to {} bytes", dev.path, bytes, *o.size);
        bytes = *o.size;
    } else if (o.size && bytes > *o.size) {
        log::notice("{}: the file has {} bytes, more than size={}; serving all of it (files are never truncated "
                    "when opened; use resize)",
                    dev.path, bytes, *o.size);
    }
    if (bytes < bs)
        return make_error(ErrorCode::InvalidArgument,
                          bytes == 0 ? fmt::format("{} is empty; give a size to extend it", dev.path)
                                     : fmt::format("{} ({} bytes) is smaller than one {}-byte block", dev.path, bytes, bs),
                          "size");
    if (bytes % bs)
        log::warn("{}: the last {} bytes do not fill a {}-byte block and are not part of the namespace", dev.path,
                  bytes % bs, bs);
    dev.size = bytes / bs * bs;
    dev.volatile_write_cache = true;  // the page cache, the file system's metadata, the disk's cache
    if (!o.read_only) {
        // Probe hole punching past the end of the file, where it changes nothing.
        off_t eof = static_cast<off_t>(bytes);
        dev.deallocate = ::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, eof, bs) == 0;
        dev.deallocated_reads_zero = dev.deallocate;  // a hole reads back as zeroes
    }
    dev.zero_method = ZeroMethod::ZeroRange;
    return {};
}

// Empty when O_DIRECT works for this device and block size (and it is now
// set on fd); otherwise why not.
std::string enable_direct(DeviceState& dev, int fd) {
    uint32_t offset_align = dev.block_device ? dev.device_block_size : 512;
    uint32_t mem_align = 512;
    if (!dev.block_device) {
        struct statx stx{};
        if (::statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) == 0 && (stx.stx_mask & STATX_DIOALIGN)) {
            if (stx.stx_dio_offset_align == 0) return "the file system does not support direct I/O on this file";
            offset_align = stx.stx_dio_offset_align;
            mem_align = stx.stx_dio_mem_align;
        }
        dev.device_block_size = offset_align;
    }
    if (offset_align > dev.block_size)
        return fmt::format("direct I/O needs {}-byte alignment, more than the {}-byte block size", offset_align,
                           dev.block_size);
    if (mem_align > 4096) return fmt::format("direct I/O needs {}-byte aligned memory", mem_align);
    int flags = ::fcntl(fd, F_GETFL);
    if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_DIRECT) != 0)
        return fmt::format("the file system refuses O_DIRECT ({})", errno_text(errno));
    // The proof: one direct read of a block.
    void* buf = std::aligned_alloc(4096, 4096);
    ssize_t n = buf ? ::pread(fd, buf, dev.block_size, 0) : -1;
    int e = errno;
    std::free(buf);
    if (n < 0) {
        ::fcntl(fd, F_SETFL, flags);
        return fmt::format("a {}-byte direct read failed ({})", dev.block_size, errno_text(e));
    }
    return {};
}

}  // namespace

Result<UringOptions> parse_options(const plugin::Params& params) {
    UringOptions o;
    for (const auto& [key, value] : params) {
        if (key == "path") {
            if (value.empty()) return make_error(ErrorCode::InvalidArgument, "is empty", key);
            std::error_code ec;
            fs::path abs = fs::absolute(value, ec);
            if (ec) return make_error(ErrorCode::InvalidArgument, fmt::format("'{}': {}", value, ec.message()), key);
            o.path = abs.lexically_normal().string();
        } else if (key == "size") {
            auto v = plugin::parse_size(value, key);
            if (!v) return nvmfd::unexpected(v.error());
            if (*v == 0) return make_error(ErrorCode::InvalidArgument, "must not be zero", key);
            o.size = *v;
        } else if (key == "create") {
            auto v = plugin::parse_bool(value, key);
            if (!v) return nvmfd::unexpected(v.error());
            o.create = *v;
        } else if (key == "block_size") {
            auto v = plugin::parse_size(value, key);
            if (!v) return nvmfd::unexpected(v.error());
            if (!valid_block_size(*v))
                return make_error(ErrorCode::InvalidArgument, fmt::format("must be 512 or 4096, not {}", value), key);
            o.block_size = static_cast<uint32_t>(*v);
        } else if (key == "direct") {
            if (value == "auto") {
                o.direct = DirectMode::Auto;
            } else {
                auto v = plugin::parse_bool(value, key);
                if (!v)
                    return make_error(ErrorCode::InvalidArgument,
                                      fmt::format("'{}' is not auto, true or false", value), key);
                o.direct = *v ? DirectMode::On : DirectMode::Off;
            }
        } else if (key == "read_only") {
            auto v = plugin::parse_bool(value, key);
            if (!v) return nvmfd::unexpected(v.error());
            o.read_only = *v;
        } else {
            return make_error(ErrorCode::InvalidArgument,
                              fmt::format("unknown uring backend parameter (known: {})", kKnownKeys), key);
        }
    }
    if (o.path.empty())
        return make_error(ErrorCode::InvalidArgument, "a uring namespace needs the path of a file or block device",
                          "path");
    if (o.create && !o.size)
        return make_error(ErrorCode::InvalidArgument, "create=true needs a size for the new file", "size");
    if (o.create && o.read_only)
        return make_error(ErrorCode::InvalidArgument, "a read-only namespace cannot create its file", "create");
    if (o.size && *o.size % o.block_size.value_or(512))
        return make_error(ErrorCode::InvalidArgument,
                          fmt::format("{} is not a multiple of the block size ({})", *o.size,
                                      o.block_size.value_or(512)),
                          "size");
    return o;
}

// nvmfd.service runs with ProtectSystem=strict: everything but its state
// directory is read-only to it, whatever the file's permissions say. An
// admin who sees EROFS there needs the drop-in, not a permissions hunt.
static std::string sandbox_hint(int error, const std::string& path) {
    if (error != EROFS || !std::getenv("INVOCATION_ID")) return {};
    return fmt::format(" (under systemd, nvmfd.service may write only to the paths its unit allows: add "
                       "ReadWritePaths={} with `systemctl edit nvmfd`, then restart it)",
                       std::filesystem::path(path).parent_path().string());
}

// What is at the path, as open_device needs it: nothing (allowed with
// create=true only), a regular file, or a block device nobody else uses.
// Returns whether it exists. Shared with check_device, so a dry run refuses
// what opening would.
static Result<bool> inspect_path(const UringOptions& o, struct stat& st) {
    if (::stat(o.path.c_str(), &st) != 0) {
        int e = errno;
        if (e != ENOENT)
            return make_error(e == EACCES ? ErrorCode::PermissionDenied : ErrorCode::Io,
                              fmt::format("cannot access {}: {}", o.path, errno_text(e)), "path");
        if (!o.create)
            return make_error(ErrorCode::NotFound,
                              o.size ? fmt::format("{} does not exist (add create=true to create it)", o.path)
                                     : fmt::format("{} does not exist", o.path),
                              "path");
        return false;
    }
    if (S_ISDIR(st.st_mode))
        return make_error(ErrorCode::InvalidArgument,
                          fmt::format("{} is a directory; give a regular file or a block device", o.path), "path");
    if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
        return make_error(ErrorCode::InvalidArgument,
                          fmt::format("{} is neither a regular file nor a block device", o.path), "path");
    if (S_ISBLK(st.st_mode)) {
        auto free = check_not_in_use(o.path, st.st_rdev);
        if (!free) return nvmfd::unexpected(free.error());
    }
    return true;
}

static nvmfd::unexpected<Error> open_refused(const UringOptions& o, int e) {
    bool denied = e == EACCES || e == EROFS || e == EPERM;
    return make_error(denied ? ErrorCode::PermissionDenied : ErrorCode::Io,
                      fmt::format("cannot open {}{}: {}{}{}", o.path, o.read_only ? "" : " for writing", errno_text(e),
                                  sandbox_hint(e, o.path),
                                  denied && !o.read_only ? " (set read_only=true to export it read-only)" : ""),
                      "path");
}

Result<void> check_device(const UringOptions& o) {
    struct stat st{};
    auto exists = inspect_path(o, st);
    if (!exists) return nvmfd::unexpected(exists.error());
    if (*exists) {
        if (::access(o.path.c_str(), o.read_only ? R_OK : R_OK | W_OK) != 0) return open_refused(o, errno);
        return {};
    }
    std::string dir = fs::path(o.path).parent_path().string();
    if (::access(dir.c_str(), W_OK | X_OK) != 0) {
        int e = errno;
        return make_error(e == EACCES || e == EROFS ? ErrorCode::PermissionDenied : ErrorCode::Io,
                          fmt::format("cannot create {}: {}{}", o.path, errno_text(e), sandbox_hint(e, o.path)),
                          "path");
    }
    return {};
}

Result<std::unique_ptr<DeviceState>> open_device(const UringOptions& o) {
    auto dev = std::make_unique<DeviceState>();
    dev->path = o.path;
    dev->read_only = o.read_only;
    dev->direct_mode = o.direct;
    const char* path = o.path.c_str();
    const int access = (o.read_only ? O_RDONLY : O_RDWR) | O_CLOEXEC;

    struct stat st{};
    bool created = false;
    UniqueFd fd;
    auto exists = inspect_path(o, st);
    if (!exists) return nvmfd::unexpected(exists.error());
    if (!*exists) {
        fd = UniqueFd(::open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
        if (!fd) {
            int ce = errno;
            return make_error(ce == EACCES || ce == EROFS ? ErrorCode::PermissionDenied : ErrorCode::Io,
                              fmt::format("cannot create {}: {}{}", o.path, errno_text(ce), sandbox_hint(ce, o.path)),
                              "path");
        }
        created = true;
        log::notice("{}: created", o.path);
    } else {
        fd = UniqueFd(::open(path, access));
        if (!fd) return open_refused(o, errno);
        if (::fstat(fd.get(), &st) != 0)
            return make_error(ErrorCode::Io, fmt::format("cannot stat {}: {}", o.path, errno_text(errno)), "path");
    }

    Result<void> ok = S_ISBLK(st.st_mode) ? setup_block_device(*dev, fd.get(), o)
                                          : setup_file(*dev, fd.get(), o, created);
    if (ok && o.direct != DirectMode::Off) {
        std::string why = enable_direct(*dev, fd.get());
        if (why.empty()) {
            dev->direct = true;
        } else if (o.direct == DirectMode::On) {
            ok = make_error(ErrorCode::InvalidArgument, fmt::format("O_DIRECT is not possible for {}: {}", o.path, why),
                            "direct");
        } else {
            dev->buffered_reason = why;
            log::warn("{}: buffered I/O through the page cache instead of O_DIRECT: {}", o.path, why);
        }
    } else if (ok) {
        dev->buffered_reason = "direct=false";
    }
    if (ok && !dev->direct) dev->volatile_write_cache = true;  // the page cache holds writes
    if (!ok) {
        if (created) ::unlink(path);
        return nvmfd::unexpected(ok.error());
    }
    dev->fd = std::move(fd);
    return dev;
}

}  // namespace nvmfd::plugins::uring
