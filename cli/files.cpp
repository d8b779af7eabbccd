#include "cli/files.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <iostream>
#include <sstream>
#include <unistd.h>

#include <fmt/format.h>

#include "cli/client.hpp"

namespace nvmfd::cli {

void write_file_atomically(const std::string& path, const std::string& text, mode_t mode) {
    std::string tmp = path + ".tmp";
    if (::unlink(tmp.c_str()) != 0 && errno != ENOENT)
        throw CommandError("", fmt::format("cannot remove {}: {}", tmp, std::strerror(errno)));
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0) throw CommandError("", fmt::format("cannot create {}: {}", tmp, std::strerror(errno)));
    size_t off = 0;
    while (off < text.size()) {
        ssize_t n = ::write(fd, text.data() + off, text.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            int e = errno;
            ::close(fd);
            ::unlink(tmp.c_str());
            throw CommandError("", fmt::format("cannot write {}: {}", tmp, std::strerror(e)));
        }
        off += size_t(n);
    }
    if (::fsync(fd) != 0 || ::close(fd) != 0) {
        int e = errno;
        ::unlink(tmp.c_str());
        throw CommandError("", fmt::format("cannot write {}: {}", tmp, std::strerror(e)));
    }
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        int e = errno;
        ::unlink(tmp.c_str());
        throw CommandError("", fmt::format("cannot replace {}: {}", path, std::strerror(e)));
    }
}

std::string read_file(const std::string& path) {
    std::ostringstream ss;
    if (path == "-") {
        ss << std::cin.rdbuf();
        return ss.str();
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) throw CommandError("", fmt::format("cannot read {}: {}", path, std::strerror(errno)));
    ss << in.rdbuf();
    return ss.str();
}

std::string read_whole_fd(int fd) {
    std::string text;
    char buf[65536];
    for (;;) {
        ssize_t n = ::pread(fd, buf, sizeof buf, off_t(text.size()));
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) throw CommandError("", fmt::format("cannot read what nvmfd wrote: {}", std::strerror(errno)));
        if (n == 0) return text;
        text.append(buf, size_t(n));
    }
}

}  // namespace nvmfd::cli
