// libFuzzer target: the state-file loader. The input is the file's
// contents; Control::load_state, what the daemon calls at start, reads it
// (JSON, the strict reader of state_json.cpp) and applies it with every
// check of a real start. The Control is in dry-run mode: backends check
// their parameters instead of opening (a fuzzed "size" must not allocate
// gigabytes) and ports do not listen; the checks themselves are the same.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "core/control/control.hpp"
#include "core/control/state_json.hpp"
#include "core/runtime/log.hpp"

using namespace nvmfd;

namespace {

struct Loader {
    std::filesystem::path file;
    plugin::PluginLoader plugins{NVMFD_FUZZ_PLUGIN_DIR};
    runtime::ReactorGroup reactors{1, runtime::ReactorOptions{.buffer_pool_bytes = 1u << 20}};  // never started
    target::Target target{reactors, {}};

    Loader() {
        log::set_level(log::Level::Error);  // every refused file logs why
        char tmpl[] = "/tmp/nvmfd-fuzz-state-XXXXXX";
        if (!::mkdtemp(tmpl)) std::abort();
        file = std::filesystem::path(tmpl) / "state.json";
    }
};

Loader& loader() {
    static auto* l = new Loader();  // alive until exit, like the plugins it loaded
    return *l;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    Loader& l = loader();
    {
        std::ofstream out(l.file, std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    }
    control::ControlOptions options{l.file, {}};
    options.dry_run = true;
    control::Control control(l.target, l.plugins, options);
    auto loaded = control.load_state();
    // A file that loaded must read back the same way it was understood.
    if (loaded && *loaded) {
        auto again = control::from_json(nlohmann::json::parse(control.state_json()));
        if (!again) {
            std::fprintf(stderr, "fuzz_state: a loaded state does not read back: %s\n", again.error().describe().c_str());
            std::abort();
        }
    }
    return 0;
}
