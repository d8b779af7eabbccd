#include "core/control/scratch_control.hpp"

#include "core/control/control_helpers.hpp"

namespace nvmfd::control {
namespace {

runtime::ReactorOptions idle_reactor() {
    runtime::ReactorOptions o;
    o.buffer_pool_bytes = 4096;  // it never carries a command
    return o;
}

}  // namespace

ScratchControl::ScratchControl(plugin::PluginLoader& plugins, const target::TargetOptions& target_options,
                               std::map<std::string, plugin::Params> transport_params)
    : reactors_(1, idle_reactor()),
      target_(reactors_, target_options),
      control_(target_, plugins, ControlOptions{std::nullopt, std::move(transport_params), true, {}}) {}

Result<std::unique_ptr<ScratchControl>> Control::dry_run_copy() const {
    std::lock_guard lock(mutex_);
    auto scratch = std::make_unique<ScratchControl>(plugins_, target_.options(), options_.transport_params);
    // Offline items of the live state come out offline here too (logged as
    // such): the copy starts from the same configuration, not a better one.
    TRY(scratch->control().apply(spec_));
    return scratch;
}

}  // namespace nvmfd::control
