// What can be served by which data path (docs/kernel-offload.md): the
// kernel's nvmet serves only what it can express in configfs, and a port
// belongs to one data path with every subsystem linked to it. Checked on
// the whole configuration after every change and at start, so that the
// API, Lua, a restored file and the state file meet the same rules.
#pragma once

#include "core/control/export_spec.hpp"
#include "core/runtime/error.hpp"

namespace nvmfd::control {

// The first rule `spec` breaks, naming the object in the message and the
// field it is about.
Result<void> check_data_paths(const ExportSpec& spec);

}  // namespace nvmfd::control
