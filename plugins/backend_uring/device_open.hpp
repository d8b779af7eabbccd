// Opening what a uring namespace serves: parameter validation, creating or
// extending a file, the geometry of a file or block device, the O_DIRECT
// decision and the capabilities (discard, write cache) the core reports in
// Identify. Everything here runs on the control thread.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "core/plugin/params.hpp"
#include "core/runtime/error.hpp"
#include "plugins/backend_uring/device_state.hpp"

namespace nvmfd::plugins::uring {

struct UringOptions {
    std::string path;  // made absolute
    std::optional<uint64_t> size;
    bool create = false;
    std::optional<uint32_t> block_size;
    DirectMode direct = DirectMode::Auto;
    bool read_only = false;
};

Result<UringOptions> parse_options(const plugin::Params& params);

// The checks open_device makes on the path (exists, or may be created; a
// file or a block device not in use; may be opened as asked), without
// opening or creating it: the backend's check() for dry runs.
Result<void> check_device(const UringOptions& options);

// Opens (and when asked creates or extends) the file or block device.
Result<std::unique_ptr<DeviceState>> open_device(const UringOptions& options);

}  // namespace nvmfd::plugins::uring
