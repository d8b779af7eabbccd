// nvmfctl config save|restore|show: the whole export state as JSON, like
// nvmetcli's saveconfig.json (the same format as nvmfd's state file).
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>

#include <fmt/format.h>

#include "cli/command.hpp"
#include "cli/files.hpp"
#include "cli/output.hpp"

namespace nvmfd::cli {
namespace {

// nvmfd writes the secrets into a memfd of ours, so that they never travel
// in a D-Bus message; from there they go to the file (0600) or stdout.
std::string export_with_secrets(Context& ctx) {
    int fd = ::memfd_create("nvmfctl-config", MFD_CLOEXEC);
    if (fd < 0) throw CommandError("", fmt::format("cannot create a memfd: {}", std::strerror(errno)));
    std::string text;
    try {
        ctx.client.call([&](ManagerProxy& m) { m.ExportConfigWithSecrets(sdbus::UnixFd(fd)); });
        text = read_whole_fd(fd);
    } catch (...) {
        ::close(fd);
        throw;
    }
    ::close(fd);
    return text;
}

int save(Context& ctx, const ParsedArgs& a) {
    const bool secrets = a.flag("include-secrets");
    std::string json =
        secrets ? export_with_secrets(ctx) : ctx.client.call([](ManagerProxy& m) { return m.ExportConfig(); });
    if (a.arg(0) == "-") {
        std::cout << json;
        return 0;
    }
    write_file_atomically(a.arg(0), json, secrets ? 0600 : 0644);
    done(ctx,
         secrets ? fmt::format("configuration saved to {} with hosts' secrets (mode 0600: guard it like them)", a.arg(0))
                 : fmt::format("configuration saved to {}", a.arg(0)),
         {{"file", a.arg(0)}, {"secrets", secrets ? "included" : "left out"}});
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
            {{"config", "save", "Write every export (subsystems, namespaces, hosts, ports, ANA) to FILE.", {file},
              {{"include-secrets", "", "also write hosts' DH-HMAC-CHAP secrets and TLS PSKs (admins only)"}},
              "The file has the format of nvmfd's state file; it is replaced atomically. Hosts' keys are\n"
              "named, not included, unless --include-secrets: then a \"secrets\" section holds them, the\n"
              "file is created mode 0600, and the secrets go from nvmfd to the file without crossing D-Bus."},
             save},
            {{"config", "restore", "Replace every export with those in FILE.", {file},
              {{"force", "", "disconnect connected hosts instead of refusing"}},
              "FILE is checked completely first: on any error nothing changes. Refused with Busy while\n"
              "hosts are connected, unless --force. Keys in its \"secrets\" section are set; keys it names\n"
              "without a value keep the secrets nvmfd holds for the same subsystem and host."},
             restore},
            {{"config", "show", "Print the export configuration as JSON.", {}, {}, ""}, show},
        },
        ""};
}

}  // namespace nvmfd::cli
