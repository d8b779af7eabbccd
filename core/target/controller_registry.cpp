#include "core/target/controller_registry.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace nvmfd::target {

nvmfd::expected<uint16_t, std::string> ControllerRegistry::reserve_id(const std::string& subnqn,
                                                                    const std::string& hostnqn, uint16_t min_id,
                                                                    uint16_t max_id) {
    min_id = std::max<uint16_t>(min_id, 1);
    max_id = std::min(max_id, kMaxCntlid);
    if (min_id > max_id) return nvmfd::unexpected(fmt::format("the controller ID range {}-{} is empty", min_id, max_id));
    std::lock_guard lock(mutex_);
    if (live_ >= limits_.max_controllers)
        return nvmfd::unexpected(fmt::format("the target already has {} controllers (max-controllers)", live_));
    size_t& of_host = per_host_[hostnqn];
    if (of_host >= limits_.max_controllers_per_host)
        return nvmfd::unexpected(
            fmt::format("the host already has {} controllers (max-controllers-per-host)", of_host));
    PerSubsystem& s = subsystems_[subnqn];
    // IDs are handed out round-robin so that a host reconnecting does not get
    // the ID of its previous, maybe still dying, controller.
    // The range may have changed since the last ID: start inside it.
    if (s.next_id < min_id || s.next_id > max_id) s.next_id = min_id;
    for (uint32_t tries = 0; tries <= uint32_t(max_id - min_id); ++tries) {
        uint16_t id = s.next_id;
        s.next_id = id >= max_id ? min_id : static_cast<uint16_t>(id + 1);
        auto it = s.controllers.find(id);
        if (it != s.controllers.end() && it->second.live()) continue;
        if (it != s.controllers.end()) {
            // A controller that died without remove(): its counts go now.
            --live_;
            --per_host_[it->second.hostnqn];
        }
        s.controllers[id] = Entry{{}, hostnqn, true};
        ++live_;
        ++of_host;
        return id;
    }
    return nvmfd::unexpected(
        fmt::format("every controller ID of the subsystem's range {}-{} is in use (cntlid range)", min_id, max_id));
}

void ControllerRegistry::add(const std::shared_ptr<Controller>& ctrl) {
    std::lock_guard lock(mutex_);
    auto& s = subsystems_[ctrl->identity().subnqn];
    auto it = s.controllers.find(ctrl->cntlid());
    if (it == s.controllers.end()) return;  // not reserved: reserve_id() is the only way in
    it->second.controller = ctrl;
    it->second.reserved = false;
}

void ControllerRegistry::release_reservation(const std::string& subnqn, uint16_t cntlid) {
    std::lock_guard lock(mutex_);
    auto it = subsystems_.find(subnqn);
    if (it == subsystems_.end()) return;
    auto c = it->second.controllers.find(cntlid);
    if (c == it->second.controllers.end() || !c->second.reserved) return;
    auto host = per_host_.find(c->second.hostnqn);
    if (host != per_host_.end() && --host->second == 0) per_host_.erase(host);
    --live_;
    it->second.controllers.erase(c);
}

void ControllerRegistry::remove(const Controller& ctrl) {
    std::lock_guard lock(mutex_);
    auto it = subsystems_.find(ctrl.identity().subnqn);
    if (it == subsystems_.end()) return;
    auto c = it->second.controllers.find(ctrl.cntlid());
    if (c == it->second.controllers.end()) return;
    // Only erase our own entry: expired() is true for us while we are being
    // destroyed, and a reserved entry is a newer controller's.
    if (c->second.reserved || (!c->second.controller.expired() && c->second.controller.lock().get() != &ctrl))
        return;
    auto host = per_host_.find(c->second.hostnqn);
    if (host != per_host_.end() && --host->second == 0) per_host_.erase(host);
    --live_;
    it->second.controllers.erase(c);
}

std::shared_ptr<Controller> ControllerRegistry::find(const std::string& subnqn, uint16_t cntlid) const {
    std::lock_guard lock(mutex_);
    auto it = subsystems_.find(subnqn);
    if (it == subsystems_.end()) return nullptr;
    auto c = it->second.controllers.find(cntlid);
    return c == it->second.controllers.end() ? nullptr : c->second.controller.lock();
}

std::vector<std::shared_ptr<Controller>> ControllerRegistry::all() const {
    std::lock_guard lock(mutex_);
    std::vector<std::shared_ptr<Controller>> out;
    for (auto& [nqn, s] : subsystems_)
        for (auto& [id, e] : s.controllers)
            if (auto c = e.controller.lock()) out.push_back(std::move(c));
    return out;
}

std::vector<std::shared_ptr<Controller>> ControllerRegistry::of_subsystem(const std::string& subnqn) const {
    std::lock_guard lock(mutex_);
    std::vector<std::shared_ptr<Controller>> out;
    auto it = subsystems_.find(subnqn);
    if (it == subsystems_.end()) return out;
    for (auto& [id, e] : it->second.controllers)
        if (auto c = e.controller.lock()) out.push_back(std::move(c));
    return out;
}

size_t ControllerRegistry::count_for_subsystem(const std::string& subnqn) const { return of_subsystem(subnqn).size(); }

}  // namespace nvmfd::target
