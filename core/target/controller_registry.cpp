#include "core/target/controller_registry.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "core/proto/fabrics.hpp"

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
    // Counts are looked up, not inserted: a refused host leaves no entry.
    auto count_of = [&](const std::map<std::string, size_t>& m) {
        auto it = m.find(hostnqn);
        return it == m.end() ? size_t(0) : it->second;
    };
    if (size_t of_host = count_of(per_host_); of_host >= limits_.max_controllers_per_host)
        return nvmfd::unexpected(
            fmt::format("the host already has {} controllers (max-controllers-per-host)", of_host));
    PerSubsystem& s = subsystems_[subnqn];
    if (size_t in_sub = count_of(s.per_host); in_sub >= limits_.max_controllers_per_host_subsystem)
        return nvmfd::unexpected(fmt::format("the host already has {} controllers in the subsystem "
                                           "(max-controllers-per-host-per-subsystem)",
                                           in_sub));
    bool io = subnqn != proto::kDiscoveryNqn;
    if (size_t queues = io_queues_of(hostnqn); io && queues >= limits_.max_io_queues_per_host)
        return nvmfd::unexpected(
            fmt::format("the host already has {} I/O queues granted (max-io-queues-per-host)", queues));
    // IDs are handed out round-robin so that a host reconnecting does not get
    // the ID of its previous, maybe still dying, controller.
    // The range may have changed since the last ID: start inside it.
    if (s.next_id < min_id || s.next_id > max_id) s.next_id = min_id;
    for (uint32_t tries = 0; tries <= uint32_t(max_id - min_id); ++tries) {
        uint16_t id = s.next_id;
        s.next_id = id >= max_id ? min_id : static_cast<uint16_t>(id + 1);
        auto it = s.controllers.find(id);
        if (it != s.controllers.end() && it->second.live()) continue;
        // A controller that died without remove(): its counts go now.
        if (it != s.controllers.end()) uncount(s, it->second);
        s.controllers[id] = Entry{{}, hostnqn, true, io ? 1u : 0u};
        ++live_;
        ++per_host_[hostnqn];
        ++s.per_host[hostnqn];
        if (io) ++io_per_host_[hostnqn];
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
    Entry& e = it->second;
    e.controller = ctrl;
    e.reserved = false;
    if (e.io_queues) {
        uint32_t granted = grant_locked(e, ctrl->granted_io_queues()).granted;
        ctrl->set_granted_io_queues(static_cast<uint16_t>(granted));
    }
}

IoQueueGrant ControllerRegistry::grant_io_queues(const Controller& ctrl, uint32_t wanted) {
    std::lock_guard lock(mutex_);
    auto it = subsystems_.find(ctrl.identity().subnqn);
    if (it == subsystems_.end()) return {wanted, false};
    auto c = it->second.controllers.find(ctrl.cntlid());
    if (c == it->second.controllers.end() || c->second.io_queues == 0) return {wanted, false};
    return grant_locked(c->second, wanted);
}

IoQueueGrant ControllerRegistry::grant_locked(Entry& e, uint32_t wanted) {
    size_t& total = io_per_host_[e.hostnqn];
    size_t others = total - e.io_queues;
    size_t left = limits_.max_io_queues_per_host > others ? limits_.max_io_queues_per_host - others : 0;
    // At least one: the reservation held it, and a controller without I/O queues is of no use.
    uint32_t granted = static_cast<uint32_t>(std::max<size_t>(1, std::min<size_t>(wanted, left)));
    total = others + granted;
    e.io_queues = granted;
    return {granted, granted < wanted};
}

size_t ControllerRegistry::io_queues_of(const std::string& hostnqn) const {
    auto it = io_per_host_.find(hostnqn);
    return it == io_per_host_.end() ? 0 : it->second;
}

void ControllerRegistry::release_reservation(const std::string& subnqn, uint16_t cntlid) {
    std::lock_guard lock(mutex_);
    auto it = subsystems_.find(subnqn);
    if (it == subsystems_.end()) return;
    auto c = it->second.controllers.find(cntlid);
    if (c == it->second.controllers.end() || !c->second.reserved) return;
    uncount(it->second, c->second);
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
    uncount(it->second, c->second);
    it->second.controllers.erase(c);
}

void ControllerRegistry::uncount(PerSubsystem& s, const Entry& e) {
    const std::string& hostnqn = e.hostnqn;
    --live_;
    if (auto host = per_host_.find(hostnqn); host != per_host_.end() && --host->second == 0) per_host_.erase(host);
    if (auto host = s.per_host.find(hostnqn); host != s.per_host.end() && --host->second == 0) s.per_host.erase(host);
    if (auto host = io_per_host_.find(hostnqn); host != io_per_host_.end() && (host->second -= e.io_queues) == 0)
        io_per_host_.erase(host);
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
