// libFuzzer target: the Lua policy engine's conversion of outside values.
// The input is the args JSON of `nvmfctl policy test` (D-Bus hands it to
// PolicyManager::test as text): it is parsed, pushed into Lua
// (json_to_lua.cpp), read by the bindings' strict argument readers
// (args.cpp) as fuzz_lua_args.lua hands its parts to them, recorded and
// returned as JSON (lua_to_json.cpp), and the report dumped as the service
// sends it. The live Control only lends its configuration: a dry run
// changes nothing.
#include <boost/asio/io_context.hpp>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "core/control/control.hpp"
#include "core/runtime/log.hpp"
#include "lua/policy_manager.hpp"

using namespace nvmfd;

namespace {

struct Engine {
    plugin::PluginLoader plugins{NVMFD_FUZZ_PLUGIN_DIR};
    runtime::ReactorGroup reactors{1, runtime::ReactorOptions{.buffer_pool_bytes = 1u << 20}};  // never started
    target::Target target{reactors, {}};
    control::Control control{target, plugins, control::ControlOptions{}};
    boost::asio::io_context io;
    lua::PolicyManager policies{io, control, lua::PolicyLimits{}, {}};
    std::string source;

    Engine() {
        log::set_level(log::Level::Error);
        std::ifstream in(NVMFD_FUZZ_LUA_POLICY);
        std::stringstream ss;
        ss << in.rdbuf();
        source = ss.str();
        if (source.empty()) std::abort();
        // Something for the arguments to meet: a subsystem with a namespace.
        if (!control.add_subsystem("nqn.2026-11.io.nvmfd:fuzz", {})) std::abort();
        control::NamespaceSettings ns;
        ns.backend = "malloc";
        ns.params = {{"size", "1M"}};
        if (!control.add_namespace("nqn.2026-11.io.nvmfd:fuzz", ns)) std::abort();
    }
};

Engine& engine() {
    static auto* e = new Engine();  // alive until exit, like the plugins it loaded
    return *e;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    Engine& e = engine();
    control::PolicyTest test{e.source, "fuzz_lua_args.lua", {}, "templates.fuzz",
                             std::string(reinterpret_cast<const char*>(data), size)};
    auto report = e.policies.test(test);
    (void)report;  // refused args are an answer too; only a crash or a leak is a finding
    return 0;
}
