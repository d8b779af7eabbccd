// A dry run's copy of a daemon's configuration: a Control in dry-run mode
// (ControlOptions::dry_run) over an idle Target of its own, started from the
// live Control's export spec. Calls on it are validated by the same code as
// the real ones and change its spec, but nothing is persisted, no backend
// opens a namespace, no port listens, and no host is connected to it.
// `nvmfctl policy test` runs a policy against one.
#pragma once

#include <memory>

#include "core/control/control.hpp"
#include "core/runtime/reactor.hpp"
#include "core/target/target.hpp"

namespace nvmfd::control {

class ScratchControl {
public:
    ScratchControl(plugin::PluginLoader& plugins, const target::TargetOptions& target_options,
                   std::map<std::string, plugin::Params> transport_params);
    ScratchControl(const ScratchControl&) = delete;
    ScratchControl& operator=(const ScratchControl&) = delete;

    Control& control() { return control_; }

private:
    runtime::ReactorGroup reactors_;  // never started: snapshots are installed in place
    target::Target target_;
    Control control_;
};

}  // namespace nvmfd::control
