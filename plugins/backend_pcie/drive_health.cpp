#include "plugins/backend_pcie/drive_health.hpp"

#include <algorithm>
#include <cstring>

#include "core/proto/log_pages.hpp"

namespace nvmfd::plugins::pcie {

plugin::DeviceHealth health_from_smart(std::span<const uint8_t> page) {
    proto::SmartHealthLog log{};
    std::memcpy(&log, page.data(), std::min(page.size(), sizeof log));
    plugin::DeviceHealth h;
    h.critical_warning = log.critical_warning;
    h.temperature_kelvin = log.composite_temperature;
    h.available_spare = log.available_spare;
    h.available_spare_threshold = log.available_spare_threshold;
    h.percentage_used = log.percentage_used;
    std::memcpy(&h.media_errors, log.media_errors, sizeof h.media_errors);  // the low 64 bits
    return h;
}

std::optional<plugin::DeviceHealth> DriveHealth::current() const {
    std::lock_guard lock(mutex_);
    return health_;
}

void DriveHealth::watch(const void* owner, std::function<void()> changed) {
    std::lock_guard lock(watchers_mutex_);
    watchers_.emplace_back(owner, std::move(changed));
}

void DriveHealth::unwatch(const void* owner) {
    std::lock_guard lock(watchers_mutex_);
    std::erase_if(watchers_, [owner](const auto& w) { return w.first == owner; });
}

bool DriveHealth::update(const plugin::DeviceHealth& health) {
    {
        std::lock_guard lock(mutex_);
        if (health_ == health) return false;
        health_ = health;
    }
    std::lock_guard lock(watchers_mutex_);
    for (const auto& w : watchers_) w.second();
    return true;
}

}  // namespace nvmfd::plugins::pcie
