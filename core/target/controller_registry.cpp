#include "core/target/controller_registry.hpp"

namespace nvmfd::target {

uint16_t ControllerRegistry::reserve_id(const std::string& subnqn) {
    std::lock_guard lock(mutex_);
    PerSubsystem& s = subsystems_[subnqn];
    // IDs are handed out round-robin so that a host reconnecting does not get
    // the ID of its previous, maybe still dying, controller.
    for (uint32_t tries = 0; tries < kMaxCntlid; ++tries) {
        uint16_t id = s.next_id;
        s.next_id = id >= kMaxCntlid ? 1 : static_cast<uint16_t>(id + 1);
        auto it = s.controllers.find(id);
        if (it == s.controllers.end() || it->second.expired()) {
            s.controllers[id] = std::weak_ptr<Controller>();  // placeholder until add()
            return id;
        }
    }
    return 0;
}

void ControllerRegistry::add(const std::shared_ptr<Controller>& ctrl) {
    std::lock_guard lock(mutex_);
    subsystems_[ctrl->identity().subnqn].controllers[ctrl->cntlid()] = ctrl;
}

void ControllerRegistry::remove(const Controller& ctrl) {
    std::lock_guard lock(mutex_);
    auto it = subsystems_.find(ctrl.identity().subnqn);
    if (it == subsystems_.end()) return;
    auto c = it->second.controllers.find(ctrl.cntlid());
    // Only erase our own entry: expired() is true for us while we are being destroyed.
    if (c != it->second.controllers.end() && (c->second.expired() || c->second.lock().get() == &ctrl))
        it->second.controllers.erase(c);
}

std::shared_ptr<Controller> ControllerRegistry::find(const std::string& subnqn, uint16_t cntlid) const {
    std::lock_guard lock(mutex_);
    auto it = subsystems_.find(subnqn);
    if (it == subsystems_.end()) return nullptr;
    auto c = it->second.controllers.find(cntlid);
    return c == it->second.controllers.end() ? nullptr : c->second.lock();
}

std::vector<std::shared_ptr<Controller>> ControllerRegistry::all() const {
    std::lock_guard lock(mutex_);
    std::vector<std::shared_ptr<Controller>> out;
    for (auto& [nqn, s] : subsystems_)
        for (auto& [id, w] : s.controllers)
            if (auto c = w.lock()) out.push_back(std::move(c));
    return out;
}

std::vector<std::shared_ptr<Controller>> ControllerRegistry::of_subsystem(const std::string& subnqn) const {
    std::lock_guard lock(mutex_);
    std::vector<std::shared_ptr<Controller>> out;
    auto it = subsystems_.find(subnqn);
    if (it == subsystems_.end()) return out;
    for (auto& [id, w] : it->second.controllers)
        if (auto c = w.lock()) out.push_back(std::move(c));
    return out;
}

size_t ControllerRegistry::count_for_subsystem(const std::string& subnqn) const { return of_subsystem(subnqn).size(); }

}  // namespace nvmfd::target
