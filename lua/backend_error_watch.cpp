#include "lua/backend_error_watch.hpp"

namespace nvmfd::lua {

BackendErrorWatch::BackendErrorWatch(boost::asio::io_context& io, control::Control& control, Report report,
                                     std::chrono::milliseconds period)
    : control_(control), report_(std::move(report)), period_(period), timer_(io) {}

BackendErrorWatch::~BackendErrorWatch() {
    *alive_ = nullptr;
    timer_.cancel();
}

void BackendErrorWatch::set_enabled(bool on) {
    if (on == enabled_) return;
    enabled_ = on;
    if (!on) {
        timer_.cancel();
        return;
    }
    last_ = counts();
    arm();
}

std::map<std::pair<std::string, uint32_t>, uint64_t> BackendErrorWatch::counts() const {
    std::map<std::pair<std::string, uint32_t>, uint64_t> out;
    for (const auto& s : control_.export_spec().subsystems)
        for (const auto& ns : s.namespaces)
            if (auto st = control_.namespace_stats(s.nqn, ns.nsid)) out[{s.nqn, ns.nsid}] = st->backend_errors;
    return out;
}

void BackendErrorWatch::arm() {
    timer_.expires_after(period_);
    timer_.async_wait([alive = std::weak_ptr<BackendErrorWatch*>(alive_)](const boost::system::error_code& ec) {
        auto self = alive.lock();
        if (ec || !self || !*self) return;
        (*self)->tick();
    });
}

void BackendErrorWatch::tick() {
    if (!enabled_) return;
    auto now = counts();
    for (const auto& [key, total] : now) {
        auto before = last_.find(key);
        // A namespace that was re-added starts again from 0.
        uint64_t base = before == last_.end() || before->second > total ? 0 : before->second;
        if (total > base) report_(BackendErrors{key.first, key.second, total - base, total});
    }
    last_ = std::move(now);
    if (enabled_) arm();
}

}  // namespace nvmfd::lua
