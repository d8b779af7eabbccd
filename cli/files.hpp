// Files nvmfctl reads and writes for the admin (config save/restore, policy
// scripts). Errors are CommandError naming the file.
#pragma once

#include <string>

namespace nvmfd::cli {

// The whole file; "-" is standard input.
std::string read_file(const std::string& path);
// Write next to the target and rename over it, so a crash or a full disk
// never leaves half a file where a good one was. The temp file is created
// fresh (O_EXCL | O_NOFOLLOW): a symlink planted there is never followed.
void write_file_atomically(const std::string& path, const std::string& text);

}  // namespace nvmfd::cli
