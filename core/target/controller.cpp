#include "core/target/controller.hpp"

#include <algorithm>

#include "core/proto/fabrics.hpp"
#include "core/proto/smart.hpp"
#include "core/runtime/log.hpp"
#include "core/target/queue_pair.hpp"
#include "core/target/target.hpp"

namespace nvmfd::target {

using proto::LogPageId;

namespace {

// One mask bit per log page that an event points the host to; a further
// event of the same kind is held back until the host has read that page.
uint32_t event_mask_bit(LogPageId log) {
    switch (log) {
    case LogPageId::ChangedNamespaceList: return 1u << 0;
    case LogPageId::AsymmetricNamespaceAccess: return 1u << 1;
    case LogPageId::Discovery: return 1u << 2;
    case LogPageId::ErrorInformation: return 1u << 3;
    case LogPageId::SmartHealth: return 1u << 4;
    default: return 1u << 5;
    }
}

// Async Event Configuration bit enabling each notice.
uint32_t notice_enable_bit(proto::AsyncNotice n) {
    switch (n) {
    case proto::AsyncNotice::NamespaceAttributeChanged: return 1u << 8;
    case proto::AsyncNotice::AnaChange: return 1u << 11;
    case proto::AsyncNotice::DiscoveryLogChange: return 1u << 31;
    default: return 0;
    }
}

}  // namespace

Controller::Controller(Target& target, ControllerIdentity identity, QueuePair& admin_queue, uint32_t kato_ms)
    : target_(target),
      identity_(std::move(identity)),
      admin_reactor_(admin_queue.reactor()),
      admin_queue_(&admin_queue),
      granted_io_queues_(target.options().max_io_queues),
      kato_ms_(kato_ms),
      io_queues_(size_t(target.options().max_io_queues) + 1, nullptr),
      host_address_(admin_queue.peer_address()) {
    feature_values_[uint8_t(proto::FeatureId::TemperatureThreshold)] = 0x0157;  // 343 K, the usual default
}

Controller::~Controller() {
    target_.controllers().remove(*this);
    ControllerInfo gone;
    gone.identity = identity_;
    gone.host_address = host_address_;
    gone.kato_ms = kato_ms_;
    gone.end_reason = end_reason_.empty() ? "admin queue closed" : end_reason_;
    target_.controller_changed(gone, false);
}

ControllerInfo Controller::info() const {
    ControllerInfo i;
    i.identity = identity_;
    i.host_address = host_address_;
    i.kato_ms = kato_ms_;
    i.enabled = ready();
    std::lock_guard lock(mutex_);
    for (QueuePair* q : io_queues_)
        if (q) ++i.io_queues;
    return i;
}

uint64_t Controller::cap() const {
    const auto& o = target_.options();
    uint64_t cap = uint64_t(o.max_queue_size - 1);  // MQES, 0's based
    cap |= 1ull << 16;                              // CQR: queues must be contiguous
    cap |= 15ull << 24;                             // TO: 7.5 s in 500 ms units
    cap |= 1ull << 37;                              // CSS: NVM command set
    return cap;                                     // MPSMIN = MPSMAX = 0: 4 KiB pages
}

void Controller::write_cc(uint32_t value) {
    uint32_t old = cc_;
    cc_ = value;
    bool was_enabled = old & proto::cc::kEnable;
    bool enabled = value & proto::cc::kEnable;
    if (enabled && !was_enabled) enable();
    if (!enabled && was_enabled) disable(false);
    if (proto::cc::shn(value) && !proto::cc::shn(old)) {
        disable(true);
        csts_ |= proto::csts::kShutdownComplete;
    }
    if (!proto::cc::shn(value) && proto::cc::shn(old)) csts_ &= ~proto::csts::kShutdownMask;
}

void Controller::enable() {
    // The host must ask for what this controller implements: 64-byte SQEs,
    // 16-byte CQEs, 4 KiB pages, round-robin arbitration, the NVM command set.
    uint32_t cc = cc_;
    bool valid = proto::cc::iosqes(cc) == 6 && proto::cc::iocqes(cc) == 4 && proto::cc::mps(cc) == 0 &&
                 proto::cc::ams(cc) == 0 && proto::cc::css(cc) == 0;
    if (!valid) {
        log::warn("controller {} of {}: host {} enabled it with unsupported CC {:#x}; reporting a fatal status",
                  identity_.cntlid, identity_.subnqn, identity_.hostnqn, cc);
        csts_ = proto::csts::kFatal;
        return;
    }
    csts_ = proto::csts::kReady;
    ready_.store(true, std::memory_order_release);
}

void Controller::disable(bool shutdown) {
    ready_.store(false, std::memory_order_release);
    csts_ &= ~proto::csts::kReady;
    if (!shutdown) cc_ = 0;
    // The host resets or shuts down: its I/O queues go with the old association.
    close_io_queues(shutdown ? "controller shutdown" : "controller reset");
}

void Controller::start_keep_alive() {
    stop_keep_alive();
    if (kato_ms_ == 0) return;
    std::weak_ptr<Controller> weak = weak_from_this();
    keep_alive_timer_ = admin_reactor_.add_timer(std::chrono::milliseconds(kato_ms_), [weak] {
        if (auto self = weak.lock()) self->keep_alive_tick();
    });
}

void Controller::stop_keep_alive() {
    if (keep_alive_timer_) admin_reactor_.cancel_timer(keep_alive_timer_);
    keep_alive_timer_ = 0;
}

void Controller::keep_alive_tick() {
    keep_alive_timer_ = 0;
    // Any command in the last period counts (traffic based keep-alive, CTRATT.TBKAS).
    if (activity_.exchange(false, std::memory_order_relaxed)) {
        start_keep_alive();
        return;
    }
    log::warn("controller {} of {} (host {} at {}): keep-alive timeout ({} ms); tearing down the association",
              identity_.cntlid, identity_.subnqn, identity_.hostnqn, host_address_, kato_ms_);
    ready_.store(false, std::memory_order_release);
    csts_ |= proto::csts::kFatal;
    shut_down("keep-alive timeout");
}

void Controller::set_kato_ms(uint32_t ms) {
    kato_ms_ = ms;
    activity_.store(true, std::memory_order_relaxed);
    start_keep_alive();
}

uint32_t Controller::feature_value(uint8_t fid) const { return feature_values_[fid]; }
void Controller::set_feature_value(uint8_t fid, uint32_t v) { feature_values_[fid] = v; }

bool Controller::attach_io_queue(uint16_t qid, QueuePair& qp) {
    std::lock_guard lock(mutex_);
    if (shutting_down_.load() || qid == 0 || qid >= io_queues_.size() || qid > granted_io_queues() ||
        io_queues_[qid])
        return false;
    io_queues_[qid] = &qp;
    return true;
}

void Controller::detach_io_queue(uint16_t qid, QueuePair& qp) {
    std::lock_guard lock(mutex_);
    if (qid < io_queues_.size() && io_queues_[qid] == &qp) io_queues_[qid] = nullptr;
}

void Controller::detach_admin_queue() {
    stop_keep_alive();
    admin_queue_ = nullptr;
    ready_.store(false, std::memory_order_release);
    // Without its admin queue the association is over; the I/O queues follow.
    shut_down("admin queue closed");
}

void Controller::close_io_queues(const std::string& reason) {
    std::vector<std::pair<runtime::Reactor*, uint16_t>> targets;
    {
        std::lock_guard lock(mutex_);
        for (uint16_t qid = 1; qid < io_queues_.size(); ++qid)
            if (io_queues_[qid]) targets.emplace_back(&io_queues_[qid]->reactor(), qid);
    }
    auto self = shared_from_this();
    for (auto [reactor, qid] : targets) {
        // qid = qid: clang before 16 cannot capture a structured binding.
        reactor->post([self, qid = qid, reason] {
            // A queue pair only dies on its own reactor, so finding it here
            // under the lock means it is alive until we return.
            QueuePair* qp = nullptr;
            {
                std::lock_guard lock(self->mutex_);
                qp = self->io_queues_[qid];
            }
            if (qp && &qp->reactor() == runtime::Reactor::current()) qp->transport().close(reason);
        });
    }
}

void Controller::shut_down(std::string reason) {
    if (shutting_down_.exchange(true)) return;
    end_reason_ = reason;  // read by the destructor, after the last reference is gone
    ready_.store(false, std::memory_order_release);
    close_io_queues(reason);
    auto self = shared_from_this();
    admin_reactor_.post([self, reason] {
        if (self->admin_queue_) self->admin_queue_->transport().close(reason);
    });
}

void Controller::add_error(const plugin::Request& req, uint16_t sqid, proto::Status status, uint64_t lba,
                           proto::TransportType trtype) {
    std::lock_guard lock(mutex_);
    proto::ErrorLogEntry e{};
    e.error_count = ++error_count_;
    e.sqid = sqid;
    e.cid = req.sqe.cid;
    e.status = status.cqe_status();
    e.parameter_error_location = req.error_location;
    e.lba = lba;
    e.nsid = req.sqe.nsid;
    e.trtype = uint8_t(trtype);  // of the queue the command came on
    errors_.push_front(e);
    if (errors_.size() > kErrorLogEntries) errors_.pop_back();
}

std::vector<proto::ErrorLogEntry> Controller::error_log() const {
    std::lock_guard lock(mutex_);
    return {errors_.begin(), errors_.end()};
}

uint64_t Controller::error_count() const {
    std::lock_guard lock(mutex_);
    return error_count_;
}

bool Controller::park_aer(plugin::Request& req) {
    if (parked_aers_.size() >= kAerLimit) return false;
    parked_aers_.push_back(&req);
    deliver_events();
    return true;
}

void Controller::abort_parked_aers() {
    auto parked = std::move(parked_aers_);
    parked_aers_.clear();
    for (plugin::Request* r : parked) QueuePair::of(*r).complete(*r, proto::status::kAbortSqDeleted);
}

void Controller::raise_event(proto::AsyncEventType type, proto::AsyncNotice notice, LogPageId log) {
    if (type == proto::AsyncEventType::Notice && !(aec_ & notice_enable_bit(notice))) return;
    queue_event(proto::async_event_dw0(type, uint8_t(notice), log), log);
}

void Controller::critical_warning_raised(uint8_t raised) {
    const uint8_t wanted = raised & uint8_t(aec_);
    if (!wanted) return;
    queue_event(proto::async_event_dw0(proto::AsyncEventType::SmartHealth, uint8_t(proto::smart_event_info(wanted)),
                                       LogPageId::SmartHealth),
                LogPageId::SmartHealth);
}

void Controller::queue_event(uint32_t dw0, LogPageId log) {
    uint32_t bit = event_mask_bit(log);
    if (masked_logs_ & bit) return;  // the host has not read the page since the last event
    masked_logs_ |= bit;
    pending_events_.push_back(dw0);
    deliver_events();
}

void Controller::clear_event_mask(LogPageId log) { masked_logs_ &= ~event_mask_bit(log); }

void Controller::deliver_events() {
    while (!parked_aers_.empty() && !pending_events_.empty()) {
        plugin::Request* r = parked_aers_.front();
        parked_aers_.erase(parked_aers_.begin());
        r->cqe.dw0 = pending_events_.front();
        pending_events_.pop_front();
        QueuePair::of(*r).complete(*r, proto::status::kSuccess);
    }
}

void Controller::namespace_changed(uint32_t nsid) {
    if (!changed_namespaces_overflow_ &&
        std::find(changed_namespaces_.begin(), changed_namespaces_.end(), nsid) == changed_namespaces_.end()) {
        if (changed_namespaces_.size() >= proto::kChangedNamespaceListEntries) {
            changed_namespaces_overflow_ = true;
            changed_namespaces_.clear();
        } else {
            changed_namespaces_.push_back(nsid);
        }
    }
    raise_event(proto::AsyncEventType::Notice, proto::AsyncNotice::NamespaceAttributeChanged,
                LogPageId::ChangedNamespaceList);
}

std::vector<uint32_t> Controller::take_changed_namespaces(bool retain) {
    std::vector<uint32_t> out;
    if (changed_namespaces_overflow_) {
        out.push_back(0xffffffffu);  // "more than 1024 changed": rescan everything
    } else {
        out = changed_namespaces_;
        std::sort(out.begin(), out.end());
    }
    if (!retain) {
        changed_namespaces_.clear();
        changed_namespaces_overflow_ = false;
        clear_event_mask(LogPageId::ChangedNamespaceList);
    }
    return out;
}

}  // namespace nvmfd::target
