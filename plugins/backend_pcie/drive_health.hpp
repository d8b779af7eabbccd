// What nvmfd last read of a drive's SMART / Health log, shared by the
// drive's namespaces (PcieDevice::health), and who to tell when it
// changes: the core, per namespace (BlockDevice::watch_health). Updated by
// the drive's monitor thread, read by reactors; no I/O here.
#pragma once

#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "core/plugin/backend.hpp"

namespace nvmfd::plugins::pcie {

// The fields of a SMART / Health log page (512 bytes) nvmfd passes on.
plugin::DeviceHealth health_from_smart(std::span<const uint8_t> page);

class DriveHealth {
public:
    std::optional<plugin::DeviceHealth> current() const;
    // `changed` is called after every update that changes the health, until
    // unwatch(owner); unwatch waits for a call in progress.
    void watch(const void* owner, std::function<void()> changed);
    void unwatch(const void* owner);
    // A fresh reading; true if it differs from the last one.
    bool update(const plugin::DeviceHealth& health);

private:
    mutable std::mutex mutex_;
    std::optional<plugin::DeviceHealth> health_;
    // Held while the watchers are called: unwatch() returns only once no
    // call to the one it removes can still be running.
    std::mutex watchers_mutex_;
    std::vector<std::pair<const void*, std::function<void()>>> watchers_;
};

}  // namespace nvmfd::plugins::pcie
