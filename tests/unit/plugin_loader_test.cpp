// The plugin loader names the file and the reason for every plugin it
// cannot use: missing, not a shared object, not an nvmfd plugin, built for
// another ABI, or describing itself as something else.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "core/plugin/loader.hpp"

using namespace nvmfd;
using plugin::PluginKind;
using plugin::PluginLoader;
namespace fs = std::filesystem;

namespace {

struct PluginDir {
    fs::path path;
    PluginDir() {
        char tmpl[] = "/tmp/nvmfd-plugins-XXXXXX";
        path = mkdtemp(tmpl);
    }
    ~PluginDir() { fs::remove_all(path); }
    void add(const fs::path& from, const std::string& as) { fs::copy_file(from, path / as); }
};

}  // namespace

TEST_CASE("the build tree's plugins load and describe themselves") {
    PluginLoader loader(NVMFD_TEST_PLUGIN_DIR);
    auto tcp = loader.load(PluginKind::Transport, "tcp");
    REQUIRE(tcp);
    CHECK(std::string((*tcp)->descriptor->name) == "tcp");
    auto malloc_plugin = loader.load(PluginKind::Backend, "malloc");
    REQUIRE(malloc_plugin);
    CHECK(bool((*malloc_plugin)->descriptor->create_backend));
    // Loaded once.
    CHECK(*loader.load(PluginKind::Backend, "malloc") == *malloc_plugin);
}

TEST_CASE("a missing plugin names the file it looked for") {
    PluginLoader loader(NVMFD_TEST_PLUGIN_DIR);
    auto r = loader.load(PluginKind::Backend, "nosuch");
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::NotFound);
    CHECK(r.error().message.find("nvmfd-backend-nosuch.so") != std::string::npos);
    CHECK_FALSE(loader.load(PluginKind::Backend, "../etc/passwd"));
}

TEST_CASE("broken plugins are refused with the file and the reason") {
    PluginDir dir;
    {
        std::ofstream(dir.path / "nvmfd-backend-garbage.so") << "this is not an ELF file";
    }
    dir.add(BAD_ABI_PLUGIN, "nvmfd-backend-oldabi.so");
    dir.add(NO_DESCRIPTOR_PLUGIN, "nvmfd-backend-nodesc.so");
    dir.add(fs::path(NVMFD_TEST_PLUGIN_DIR) / "nvmfd-transport-tcp.so", "nvmfd-backend-impostor.so");
    PluginLoader loader(dir.path);

    auto garbage = loader.load(PluginKind::Backend, "garbage");
    REQUIRE_FALSE(garbage);
    CHECK(garbage.error().code == ErrorCode::PluginError);
    CHECK(garbage.error().message.find("nvmfd-backend-garbage.so") != std::string::npos);

    auto old = loader.load(PluginKind::Backend, "oldabi");
    REQUIRE_FALSE(old);
    CHECK(old.error().message.find("nvmfd-plugin-abi-0") != std::string::npos);
    CHECK(old.error().message.find("rebuild") != std::string::npos);

    auto nodesc = loader.load(PluginKind::Backend, "nodesc");
    REQUIRE_FALSE(nodesc);
    CHECK(nodesc.error().message.find("nvmfd_plugin_descriptor") != std::string::npos);

    auto impostor = loader.load(PluginKind::Backend, "impostor");
    REQUIRE_FALSE(impostor);
    CHECK(impostor.error().message.find("transport plugin 'tcp'") != std::string::npos);

    // A directory scan lists every file with its problem.
    auto listing = loader.scan();
    CHECK(listing.size() == 4);
    for (auto& l : listing) CHECK((l.descriptor != nullptr) != !l.error.empty());
}
