// The kernel target contract (core/plugin/kernel_target.hpp) on Linux
// nvmet: reconcile and report through one configfs tree.
#pragma once

#include <memory>

#include "core/plugin/kernel_target.hpp"
#include "plugins/nvmet_configfs/configfs.hpp"

namespace nvmfd::plugins::nvmet {

std::unique_ptr<plugin::KernelTarget> make_nvmet_kernel_target(std::unique_ptr<Configfs> fs);

}  // namespace nvmfd::plugins::nvmet
