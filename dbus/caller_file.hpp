// A file a D-Bus caller opened and passed as a descriptor (type `h`): nvmfd
// writes into it with the caller's access, never opening a path for them.
#pragma once

#include <string>
#include <string_view>

#include "core/runtime/error.hpp"

namespace nvmfd::dbus {

// Replace the file's contents with `text`. Only a regular file (or memfd) is
// taken: a pipe or socket with a slow reader would stall the control thread.
// Errors name `field`.
Result<void> write_whole_file(int fd, std::string_view text, const std::string& field);

}  // namespace nvmfd::dbus
