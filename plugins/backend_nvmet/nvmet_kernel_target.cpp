// nvmfd-kernel-nvmet.so: the kernel data path (docs/kernel-offload.md).
// nvmfd's kernel-served subsystems and ports are written into Linux
// nvmet's configfs tree; the kernel then serves them by itself, and keeps
// serving while nvmfd is down.
#include <sys/stat.h>

#include "core/plugin/abi.hpp"
#include "core/runtime/log.hpp"
#include "plugins/backend_nvmet/nvmet_reconcile.hpp"

namespace nvmfd::plugins::nvmet {
namespace {

class NvmetKernelTarget final : public plugin::KernelTarget {
public:
    explicit NvmetKernelTarget(std::string root) : fs_(std::move(root)) {}

    Result<plugin::KernelApplied> apply(const plugin::KernelExport& desired, const plugin::KernelScope& scope,
                                        bool allow_disruptive) override {
        auto actual = read_kernel_export(fs_);
        if (!actual) return nvmfd::unexpected(actual.error());
        NvmetPlan plan = plan_reconcile(*actual, desired, scope, {allow_disruptive});
        // Each write is logged before it is made: if the kernel refuses one,
        // the log shows what was done before it.
        for (const NvmetStep& step : plan.steps) {
            log::info("nvmet: {}", nvmet::describe(step));
            if (auto r = apply_steps(fs_, {step}); !r) return nvmfd::unexpected(r.error());
        }
        return plugin::KernelApplied{plan.steps.size(), std::move(plan.held_back)};
    }

    Result<std::vector<std::string>> differences(const plugin::KernelExport& desired,
                                                 const plugin::KernelScope& scope) override {
        auto actual = read_kernel_export(fs_);
        if (!actual) return nvmfd::unexpected(actual.error());
        NvmetPlan plan = plan_reconcile(*actual, desired, scope, {false});
        std::vector<std::string> out;
        for (const NvmetStep& step : plan.steps) out.push_back("to do: " + nvmet::describe(step));
        for (std::string& line : plan.held_back) out.push_back(std::move(line));
        return out;
    }

    std::string describe() const override { return fmt::format("nvmet configfs at {}", fs_.root()); }

private:
    Configfs fs_;
};

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
    return std::unique_ptr<plugin::KernelTarget>(std::make_unique<NvmetKernelTarget>(std::move(root)));
}

}  // namespace
}  // namespace nvmfd::plugins::nvmet

NVMFD_PLUGIN((nvmfd::plugin::PluginDescriptor{nvmfd::plugin::PluginKind::KernelTarget, "nvmet",
                                              "subsystems and ports served by the kernel's nvmet (configfs)", nullptr,
                                              nullptr, nvmfd::plugins::nvmet::create}))
