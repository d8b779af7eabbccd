// A provisioning template that fails halfway must not leave half a
// namespace behind. This compares the export spec from before the call
// with the one after it and reverses, through the control API, what the
// call changed: links, hosts, namespaces, subsystems, ports and ANA groups
// it added are removed, ANA states it set are set back, hosts and links it
// removed are restored. What cannot be brought back (a namespace or
// subsystem it removed: their data is gone) is reported, not hidden.
#pragma once

#include <string>
#include <vector>

#include "core/control/control.hpp"

namespace nvmfd::lua {

struct UndoReport {
    std::vector<std::string> undone;  // "removed namespace 1 of nqn..."
    std::vector<std::string> left;    // what is still changed, and why
};

UndoReport undo_changes(control::Control& control, const control::ExportSpec& before);

}  // namespace nvmfd::lua
