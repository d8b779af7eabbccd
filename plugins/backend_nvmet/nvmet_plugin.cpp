// nvmfd-kernel-nvmet.so: the kernel data path (docs/kernel-offload.md).
// nvmfd's kernel-served subsystems and ports are written into Linux
// nvmet's configfs tree; the kernel then serves them by itself, and keeps
// serving while nvmfd is down.
#include <sys/stat.h>

#include "core/plugin/abi.hpp"
#include "plugins/backend_nvmet/nvmet_kernel_target.hpp"

namespace nvmfd::plugins::nvmet {
namespace {

Result<std::unique_ptr<plugin::KernelTarget>> create(const plugin::Params& params) {
    std::string root(plugin::find_param(params, "configfs_root").value_or(kNvmetRoot));
    struct stat st{};
    if (::stat(root.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        return make_error(ErrorCode::NotSupported,
                          fmt::format("the kernel's NVMe target is not available: {} does not exist (load the nvmet "
                                      "module and its transports, e.g. modprobe nvmet-tcp, with configfs mounted on "
                                      "/sys/kernel/config)",
                                      root),
                          "configfs_root");
    return make_nvmet_kernel_target(std::make_unique<Configfs>(std::move(root)));
}

}  // namespace
}  // namespace nvmfd::plugins::nvmet

NVMFD_PLUGIN((nvmfd::plugin::PluginDescriptor{nvmfd::plugin::PluginKind::KernelTarget, "nvmet",
                                              "subsystems and ports served by the kernel's nvmet (configfs)", nullptr,
                                              nullptr, nvmfd::plugins::nvmet::create}))
