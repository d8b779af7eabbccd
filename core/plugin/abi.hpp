// The plugin ABI: each plugin shared object exports two C symbols, an ABI tag
// string and a descriptor function. The loader compares the tag before it
// touches anything else, so a plugin built against other headers (or another
// compiler's C++ ABI) is refused with a clear error instead of crashing.
#pragma once

#include <cstdint>
#include <memory>

#include "core/plugin/backend.hpp"
#include "core/plugin/transport.hpp"

namespace nvmfd::plugin {

// Bump whenever anything under core/plugin or core/runtime changes layout.
inline constexpr int kAbiVersion = 1;

#define NVMFD_STRINGIFY2(x) #x
#define NVMFD_STRINGIFY(x) NVMFD_STRINGIFY2(x)
#define NVMFD_PLUGIN_ABI_TAG                                                                    \
    "nvmfd-plugin-abi-" NVMFD_STRINGIFY(1) "/gcc-" NVMFD_STRINGIFY(__GNUC__) "/cxx11abi-"        \
    NVMFD_STRINGIFY(_GLIBCXX_USE_CXX11_ABI)
static_assert(kAbiVersion == 1, "update the number in NVMFD_PLUGIN_ABI_TAG too");

enum class PluginKind : uint32_t { Transport = 1, Backend = 2 };

struct PluginDescriptor {
    PluginKind kind;
    const char* name;         // "tcp", "malloc", "uring": what configs refer to
    const char* description;  // one line for `nvmfd --list-plugins`
    std::unique_ptr<Transport> (*create_transport)(TransportEnv& env, const Params& params);
    std::unique_ptr<Backend> (*create_backend)(const Params& params);
};

inline constexpr const char* kAbiTagSymbol = "nvmfd_plugin_abi_tag";
inline constexpr const char* kDescriptorSymbol = "nvmfd_plugin_descriptor";

}  // namespace nvmfd::plugin

// Use once per plugin, at namespace scope.
#define NVMFD_PLUGIN(descriptor_expr)                                                        \
    extern "C" __attribute__((visibility("default"))) const char nvmfd_plugin_abi_tag[] =   \
        NVMFD_PLUGIN_ABI_TAG;                                                                \
    extern "C" __attribute__((visibility("default")))                                       \
    const ::nvmfd::plugin::PluginDescriptor* nvmfd_plugin_descriptor() {                   \
        static const ::nvmfd::plugin::PluginDescriptor d = descriptor_expr;                \
        return &d;                                                                         \
    }
