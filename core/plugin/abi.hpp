// The plugin ABI: each plugin shared object exports two C symbols, an ABI tag
// string and a descriptor function. The loader compares the tag before it
// touches anything else, so a plugin built against other headers (or another
// compiler's C++ ABI) is refused with a clear error instead of crashing.
#pragma once

#include <cstdint>
#include <memory>

#include "core/plugin/backend.hpp"
#include "core/plugin/kernel_target.hpp"
#include "core/plugin/transport.hpp"
#include "nvmfd/abi_hash.hpp"  // generated: a hash of every header a plugin sees

namespace nvmfd::plugin {

// The tag names the interface generation, the compiler's C++ ABI and a hash
// of the plugin-visible headers (core/plugin, core/runtime, core/proto), so
// any change to a struct a plugin sees makes old plugins refuse to load.
// Bump kAbiVersion for changes of meaning that leave the headers alike.
inline constexpr int kAbiVersion = 1;

#define NVMFD_STRINGIFY2(x) #x
#define NVMFD_STRINGIFY(x) NVMFD_STRINGIFY2(x)
#define NVMFD_PLUGIN_ABI_TAG                                                                    \
    "nvmfd-plugin-abi-" NVMFD_STRINGIFY(1) "/gcc-" NVMFD_STRINGIFY(__GNUC__) "/cxx11abi-"        \
    NVMFD_STRINGIFY(_GLIBCXX_USE_CXX11_ABI) "/headers-" NVMFD_PLUGIN_HEADERS_HASH
static_assert(kAbiVersion == 1, "update the number in NVMFD_PLUGIN_ABI_TAG too");

// KernelTarget: a kernel's own target configured by nvmfd (Linux nvmet),
// for subsystems and ports whose data path is the kernel's.
enum class PluginKind : uint32_t { Transport = 1, Backend = 2, KernelTarget = 3 };

struct PluginDescriptor {
    PluginKind kind;
    const char* name;         // "tcp", "malloc", "uring": what configs refer to
    const char* description;  // one line for `nvmfd --list-plugins`
    std::unique_ptr<Transport> (*create_transport)(TransportEnv& env, const Params& params);
    std::unique_ptr<Backend> (*create_backend)(const Params& params);
    // KernelTarget plugins; nullptr and an error in the log when the kernel
    // lacks what it needs.
    Result<std::unique_ptr<KernelTarget>> (*create_kernel_target)(const Params& params) = nullptr;
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
