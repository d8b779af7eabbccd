// What nvmfd's configuration asks of the kernel's target: the subsystems
// and ports whose data path is the kernel's, in the kernel-target contract's
// terms (core/plugin/kernel_target.hpp), and which of its objects a change
// touches.
#pragma once

#include "core/control/export_spec.hpp"
#include "core/plugin/kernel_target.hpp"

namespace nvmfd::control {

// The kernel-served part of `spec` (valid: see check_data_paths).
plugin::KernelExport kernel_export(const ExportSpec& spec);

// Every object either export names.
plugin::KernelScope kernel_scope(const plugin::KernelExport& a, const plugin::KernelExport& b);

// The objects that differ between `before` and `after` (added, removed or
// changed), and the hosts they name: what an admin's change may disturb.
plugin::KernelScope changed_scope(const plugin::KernelExport& before, const plugin::KernelExport& after);

// The size of a kernel namespace's block device or file (params.path), read now.
Result<uint64_t> kernel_device_size(const plugin::Params& params);

}  // namespace nvmfd::control
