// nvmfctl config save|restore|show: the whole export state as JSON, like
// nvmetcli's saveconfig.json (the same format as nvmfd's state file).
#include <iostream>

#include <fmt/format.h>

#include "cli/command.hpp"
#include "cli/files.hpp"
#include "cli/output.hpp"

namespace nvmfd::cli {
namespace {

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
