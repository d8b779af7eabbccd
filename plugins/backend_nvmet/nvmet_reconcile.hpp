// Reading the kernel's nvmet configfs tree back as a KernelExport, and
// making it equal to the one nvmfd wants (read, plan_reconcile, apply).
#pragma once

#include <vector>

#include "core/plugin/kernel_target.hpp"
#include "plugins/backend_nvmet/nvmet_plan.hpp"
#include "plugins/nvmet_configfs/configfs.hpp"

namespace nvmfd::plugins::nvmet {

// Everything under the root, as nvmfd's model sees it.
Result<plugin::KernelExport> read_kernel_export(const Configfs& fs);

// Runs the steps in order and stops at the first the kernel refuses: its
// error names the path, the errno and the field.
Result<void> apply_steps(Configfs& fs, const std::vector<NvmetStep>& steps);

// What the plan refuses to do (NvmetPlan::refused) as the error of the
// change, field "address"; nothing when it refuses nothing.
Result<void> refusal(const NvmetPlan& plan);

// Read, plan, apply; returns the plan that was carried out (no steps: the
// tree already matched).
Result<NvmetPlan> reconcile(Configfs& fs, const plugin::KernelExport& desired, const NvmetScope& scope,
                            NvmetPlanOptions options = {});

}  // namespace nvmfd::plugins::nvmet
