// A real control plane for unit tests: a target with one reactor, the
// build tree's plugins (malloc, tcp) and a state file in a temporary
// directory. Shared by the control API's and the Lua engine's tests.
#pragma once

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include "core/control/control.hpp"
#include "core/control/state_json.hpp"
#include "core/runtime/log.hpp"
#include "tests/free_port.hpp"

namespace nvmfd::test {

using control::Control;
namespace fs = std::filesystem;

inline std::string free_port() { return std::to_string(testing::free_tcp_port()); }

inline std::string slurp(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// A target with one reactor, the build tree's plugins and a state file.
struct Fixture {
    fs::path dir;
    plugin::PluginLoader loader{NVMFD_TEST_PLUGIN_DIR};  // outlives everything plugins made
    runtime::ReactorGroup reactors{1, runtime::ReactorOptions{.buffer_pool_bytes = 4u << 20}};
    target::Target target{reactors, {}};
    std::unique_ptr<Control> control;

    Fixture() {
        log::set_level(log::Level::Warning);
        char tmpl[] = "/tmp/nvmfd-control-XXXXXX";
        dir = mkdtemp(tmpl);
        reactors.start();
        target.set_reactors_running(true);
        open();
    }
    ~Fixture() {
        control.reset();
        reactors.stop();
        fs::remove_all(dir);
    }
    fs::path state() const { return dir / "state.json"; }
    void open() {
        control.reset();
        // Never the machine's own nvmet: kernel-served exports find no kernel target here.
        control = std::make_unique<Control>(
            target, loader, control::ControlOptions{state(), {}, false, {{"configfs_root", (dir / "no-nvmet-here").string()}}});
    }
    std::string spec_json() const { return control::to_json(control->export_spec()).dump(); }
};

inline control::NamespaceSettings malloc_ns(std::string size = "1M", uint32_t nsid = 0) {
    control::NamespaceSettings s;
    s.nsid = nsid;
    s.backend = "malloc";
    s.params = {{"size", std::move(size)}};
    return s;
}

// Checks that calls fail with the expected code and field and change
// nothing, neither in memory nor in the state file.
struct Unchanged {
    Fixture& f;
    std::string spec = f.spec_json();
    std::string file = slurp(f.state());

    explicit Unchanged(Fixture& fixture) : f(fixture) {}
    template <typename R>
    void check(const R& result, ErrorCode code, const std::string& field) const {
        REQUIRE_FALSE(result);
        CHECK(result.error().code == code);
        CHECK(result.error().field == field);
        CHECK_FALSE(result.error().message.empty());
        CHECK(f.spec_json() == spec);
        CHECK(slurp(f.state()) == file);
    }
};

}  // namespace nvmfd::test
