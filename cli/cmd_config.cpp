// nvmfctl config save|restore|show: the whole export state as JSON, like
// nvmetcli's saveconfig.json (the same format as nvmfd's state file).
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <iostream>
#include <sstream>
#include <unistd.h>

#include <fmt/format.h>

#include "cli/command.hpp"
#include "cli/output.hpp"

namespace nvmfd::cli {
namespace {

// Write next to the target and rename over it, so a crash or a full disk
// never leaves half a file where a good one was.
void write_file_atomically(const std::string& path, const std::string& text) {
    std::string tmp = path + ".tmp";
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
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

int save(Context& ctx, const ParsedArgs& a) {
    std::string json = ctx.client.call([](ManagerProxy& m) { return m.ExportConfig(); });
    if (a.arg(0) == "-") {
        std::cout << json;
        return 0;
    }
    write_file_atomically(a.arg(0), json);
    done(ctx, fmt::format("configuration saved to {}", a.arg(0)), {{"file", a.arg(0)}});
    return 0;
}

int restore(Context& ctx, const ParsedArgs& a) {
    std::string json = read_file(a.arg(0));
    ctx.client.call([&](ManagerProxy& m) { m.RestoreConfig(json, a.flag("force")); });
    done(ctx, fmt::format("configuration restored from {}", a.arg(0)), {{"file", a.arg(0)}});
    return 0;
}

int show(Context& ctx, const ParsedArgs&) {
    std::cout << ctx.client.call([](ManagerProxy& m) { return m.ExportConfig(); });
    return 0;
}

}  // namespace

Group config_commands() {
    const ArgSpec file{"file", "a JSON file ('-' for standard input/output)"};
    return Group{
        "config",
        "save and restore the whole export configuration (JSON, like nvmetcli save/restore)",
        {
            {{"config", "save", "Write every export (subsystems, namespaces, hosts, ports, ANA) to FILE.", {file}, {},
              "The file has the format of nvmfd's state file; it is replaced atomically."},
             save},
            {{"config", "restore", "Replace every export with those in FILE.", {file},
              {{"force", "", "disconnect connected hosts instead of refusing"}},
              "FILE is checked completely first: on any error nothing changes. Refused with Busy while\n"
              "hosts are connected, unless --force."},
             restore},
            {{"config", "show", "Print the export configuration as JSON.", {}, {}, ""}, show},
        },
        ""};
}

}  // namespace nvmfd::cli
