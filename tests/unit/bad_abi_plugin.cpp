// A plugin built against "other headers": its ABI tag does not match, so
// the loader must refuse it before touching its descriptor.
#include "core/plugin/abi.hpp"

extern "C" __attribute__((visibility("default"))) const char nvmfd_plugin_abi_tag[] = "nvmfd-plugin-abi-0/gcc-1/cxx11abi-0";
extern "C" __attribute__((visibility("default"))) const nvmfd::plugin::PluginDescriptor* nvmfd_plugin_descriptor() {
    __builtin_trap();  // never called
}
