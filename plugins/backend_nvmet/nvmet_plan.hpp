// What to change in the kernel's nvmet configfs tree to turn what it holds
// (read_kernel_export) into what nvmfd wants (docs/kernel-offload-design.md):
// an ordered list of single configfs operations, in the order the kernel
// accepts them, touching nothing that already matches, so that hosts
// connected to unchanged subsystems and ports stay connected. Pure: no file
// system here, unit-tested on any machine.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/plugin/kernel_target.hpp"

namespace nvmfd::plugins::nvmet {

struct NvmetStep {
    enum class Kind { MakeDir, RemoveDir, Write, Link, Unlink };
    Kind kind;
    std::string path;    // relative to the nvmet root
    std::string value;   // Write: the value; Link: the link's target directory
    std::string field;   // what of the export it is about, for the error (serial, path, address...)
    bool operator==(const NvmetStep&) const = default;
};

// The kernel's spelling of NGUIDs and UUIDs, for comparing: lower case,
// NGUID without dashes.
std::string normalized_nguid(std::string_view text);
std::string normalized_uuid(std::string_view text);

// What nvmfd manages in the tree (plugin::KernelScope): everything else
// (an admin's own nvmetcli objects) is left alone, never read as nvmfd's.
using NvmetScope = plugin::KernelScope;

struct NvmetPlanOptions {
    // An admin's change: do what it takes, even what drops hosts or fails
    // I/O (re-addressing a port, unlinking a subsystem from a port that
    // stays, changing a namespace's device, removing things). Off (at start,
    // after a crash): only what hosts do not notice; the rest is held back
    // and reported.
    bool allow_disruptive = true;
};

struct NvmetPlan {
    std::vector<NvmetStep> steps;
    std::vector<std::string> held_back;  // differences left alone, one line each
    // An admin's change that cannot be made because something nvmfd does
    // not manage stands in the way (a port of the admin's on the address):
    // the change is refused, nothing written.
    std::vector<std::string> refused;
};

// `actual` is the whole tree (read_kernel_export); of both it and
// `desired`, only what `scope` names is compared and changed.
NvmetPlan plan_reconcile(const plugin::KernelExport& actual, const plugin::KernelExport& desired,
                         const NvmetScope& scope, NvmetPlanOptions options = {});

// One line per step, for logs and test failures ("write subsystems/X/attr_model = Disk").
std::string describe(const NvmetStep& step);

}  // namespace nvmfd::plugins::nvmet
