// Files nvmfctl reads and writes for the admin (config save/restore, policy
// scripts). Errors are CommandError naming the file.
#pragma once

#include <string>

#include <sys/types.h>

namespace nvmfd::cli {

// The whole file; "-" is standard input.
std::string read_file(const std::string& path);
// The whole of an open file, from its start (e.g. a memfd nvmfd wrote into).
std::string read_whole_fd(int fd);
// Write next to the target and rename over it, so a crash or a full disk
// never leaves half a file where a good one was. The temp file is created
// fresh (O_EXCL | O_NOFOLLOW): a symlink planted there is never followed.
// `mode` is the new file's (0600 for one holding secrets), whatever the old one had.
void write_file_atomically(const std::string& path, const std::string& text, mode_t mode = 0644);

}  // namespace nvmfd::cli
