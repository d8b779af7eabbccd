// The control API for kernel-served exports (docs/kernel-offload.md).
#include "core/control/control.hpp"

#include "core/control/control_helpers.hpp"

namespace nvmfd::control {

using namespace detail;

std::vector<std::string> Control::kernel_drift() const {
    std::lock_guard lock(mutex_);
    return kernel_drift_;
}

Result<void> Control::apply_kernel_drift() {
    std::lock_guard lock(mutex_);
    return make_error(ErrorCode::NotSupported, "kernel-served exports are not wired yet", "kernel");
}

}  // namespace nvmfd::control
