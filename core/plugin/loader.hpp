// Loads plugin shared objects with Boost.DLL (Ceph's PluginRegistry idea:
// open the .so, check its version symbol, then call its factory). Plugins
// are found by kind and name as <dir>/nvmfd-<kind>-<name>.so.
#pragma once

#include <boost/dll/shared_library.hpp>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/plugin/abi.hpp"
#include "core/runtime/error.hpp"

namespace nvmfd::plugin {

struct LoadedPlugin {
    std::filesystem::path path;
    boost::dll::shared_library library;  // keeps the code mapped
    const PluginDescriptor* descriptor = nullptr;
};

class PluginLoader {
public:
    explicit PluginLoader(std::filesystem::path directory);
    // Not copyable: loaded libraries must outlive every object they created.
    PluginLoader(const PluginLoader&) = delete;
    PluginLoader& operator=(const PluginLoader&) = delete;

    const std::filesystem::path& directory() const { return directory_; }
    static std::string file_name(PluginKind kind, std::string_view name);
    static const char* kind_name(PluginKind kind);  // "transport", "backend", "kernel"

    // Load (once) the plugin of that kind and name.
    Result<const LoadedPlugin*> load(PluginKind kind, std::string_view name);
    // Load a specific file (tests, diagnostics).
    Result<const LoadedPlugin*> load_file(const std::filesystem::path& path);
    // Every plugin file in the directory, loaded or with the reason it failed.
    struct Listing {
        std::filesystem::path path;
        const PluginDescriptor* descriptor = nullptr;
        std::string error;
    };
    std::vector<Listing> scan();

private:
    std::filesystem::path directory_;
    std::mutex mutex_;
    std::vector<std::unique_ptr<LoadedPlugin>> loaded_;
};

}  // namespace nvmfd::plugin
