// A shared object with the right ABI tag but no descriptor function.
#include "core/plugin/abi.hpp"

extern "C" __attribute__((visibility("default"))) const char nvmfd_plugin_abi_tag[] = NVMFD_PLUGIN_ABI_TAG;
