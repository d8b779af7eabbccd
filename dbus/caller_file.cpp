#include "dbus/caller_file.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

namespace nvmfd::dbus {

Result<void> write_whole_file(int fd, std::string_view text, const std::string& field) {
    struct stat st {};
    if (::fstat(fd, &st) != 0)
        return make_error(ErrorCode::InvalidArgument, fmt::format("not an open file: {}", std::strerror(errno)), field);
    if (!S_ISREG(st.st_mode))
        return make_error(ErrorCode::InvalidArgument, "must be a regular file or a memfd (not a pipe or socket)", field);
    size_t done = 0;
    while (done < text.size()) {
        ssize_t n = ::pwrite(fd, text.data() + done, text.size() - done, off_t(done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0)
            return make_error(ErrorCode::Io, fmt::format("writing failed: {}", std::strerror(n < 0 ? errno : EIO)),
                              field);
        done += size_t(n);
    }
    if (::ftruncate(fd, off_t(text.size())) != 0)
        return make_error(ErrorCode::Io, fmt::format("truncating failed: {}", std::strerror(errno)), field);
    return {};
}

}  // namespace nvmfd::dbus
