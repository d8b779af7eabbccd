// Devices that report their own health (drives: plugin::DeviceHealth):
// a critical warning that comes on reaches the journal, the hosts that
// asked for SMART events, D-Bus and the policies. The SMART log hosts read
// merges the devices' health when it is built (core/target/log_pages.cpp).
#include "core/control/control.hpp"
#include "core/control/control_helpers.hpp"
#include "core/proto/smart.hpp"
#include "core/runtime/log.hpp"

namespace nvmfd::control {

using namespace detail;

void Control::watch_device_health(const std::string& nqn, target::Namespace& ns) {
    const plugin::BlockDevice* device = &ns.device();
    if (auto h = device->health(); h && h->critical_warning)
        log::warn("{}: its device reports critical warning {:#x} ({})", ns_label(nqn, ns.nsid()),
                  h->critical_warning, proto::critical_warning_names(h->critical_warning));
    // The device calls this on its own thread; the key and the device's
    // address find the namespace later, if it is still the one served.
    NsKey key{nqn, ns.nsid()};
    ns.device().watch_health([this, key, device] {
        auto handle = [this, key, device] { device_health_changed(key, device); };
        if (!post_to_control(handle)) handle();
    });
}

void Control::device_health_changed(const NsKey& key, const plugin::BlockDevice* device) {
    std::lock_guard lock(mutex_);
    auto it = live_.find(key);
    if (it == live_.end() || &it->second.ns->device() != device) return;  // removed (or replaced) since
    const auto health = device->health();
    const uint8_t now = health ? health->critical_warning : 0;
    const uint8_t was = it->second.critical_warning;
    if (now == was) return;  // e.g. only the temperature moved
    it->second.critical_warning = now;
    const auto& [nqn, nsid] = key;
    if (const uint8_t raised = now & ~was) {
        log::warn("{}: its device reports critical warning {:#x} ({}); hosts that enabled SMART events are told",
                  ns_label(nqn, nsid), now, proto::critical_warning_names(now));
        target_.notify_critical_warning(nqn, raised);
    } else {
        log::notice("{}: its device's critical warning is now {:#x} ({})", ns_label(nqn, nsid), now,
                    proto::critical_warning_names(now));
    }
    Event e = make_event(EventKind::NamespaceChanged, nqn, nsid, 0, 0, "health");
    e.critical_warning = now;
    emit(e);
}

}  // namespace nvmfd::control
