// The state file: written atomically after every change (temp file, fsync,
// rename, fsync the directory), the previous good version kept as
// <file>.bak, and never overwritten when it cannot be read at start.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

#include "core/runtime/error.hpp"

namespace nvmfd::control {

class StateStore {
public:
    explicit StateStore(std::filesystem::path path) : path_(std::move(path)) {}

    const std::filesystem::path& path() const { return path_; }
    std::filesystem::path backup_path() const { return path_.string() + ".bak"; }

    // nullopt when the file does not exist; an error when it exists but
    // cannot be read.
    Result<std::optional<std::string>> read() const;
    Result<void> write(const std::string& contents) const;

    // Atomically replace any file with `contents` (used for config save too).
    static Result<void> write_atomically(const std::filesystem::path& path, const std::string& contents,
                                         const std::filesystem::path* keep_previous_as = nullptr);

private:
    std::filesystem::path path_;
};

}  // namespace nvmfd::control
