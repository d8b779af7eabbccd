// The drive's asynchronous events (drive_events.hpp): SMART critical
// warnings and namespace changes reach the journal within a second or so
// (the monitor thread's health check reaps them); the SMART / Health log
// as read then (and every minute) is what the namespaces report to the
// core (drive_health.hpp).
#include <array>

#include "core/proto/status.hpp"
#include "core/runtime/log.hpp"
#include "plugins/backend_pcie/controller.hpp"
#include "plugins/backend_pcie/drive_events.hpp"

namespace nvmfd::plugins::pcie {

// Tells the drive which events to report (all SMART warnings and namespace
// notices, or the warnings only if it refuses the notices) and keeps its
// limit of requests outstanding. A drive that refuses both just reports
// nothing: the I/O path does not depend on events.
void Controller::arm_events() {
    reported_events_ = 0;
    for (uint32_t events : {kSmartWarnings | kNamespaceNotices, kSmartWarnings}) {
        if (admin(set_async_event_config(events))) {
            reported_events_ = events;
            break;
        }
    }
    if (!reported_events_) {
        log::info("pcie {}: the drive takes no Asynchronous Event Configuration: its events are not reported", bdf());
        return;
    }
    std::lock_guard lock(admin_mutex_);
    const unsigned requests = std::min<unsigned>(identity_.event_limit, kMaxEventRequests);
    for (unsigned i = 0; i < requests; ++i)
        if (!request_event()) break;
}

void Controller::read_health() {
    next_health_read_ = std::chrono::steady_clock::now() + kHealthReadInterval;
    std::array<uint8_t, 4096> page{};  // admin() copies the whole data page
    auto read = admin(get_log_page(proto::LogPageId::SmartHealth, 0xffffffff, sizeof(proto::SmartHealthLog),
                                   admin_data_iova()),
                      std::chrono::seconds(10), page.data());
    if (!read) {
        log::info("pcie {}: reading the SMART / Health log failed: {}", bdf(), read.error().message);
        return;
    }
    health_.update(health_from_smart(page));
}

bool Controller::request_event() {
    if (!admin_queue_->submit(async_event_request(), kEventCookie, std::chrono::steady_clock::time_point::max()))
        return false;
    admin_queue_->ring();
    return true;
}

void Controller::check_events() {
    std::vector<proto::Cqe> done;
    {
        std::lock_guard lock(admin_mutex_);
        admin_queue_->reap([&](uint64_t cookie, const proto::Cqe& cqe) {
            if (cookie == kEventCookie) event_completions_.push_back(cqe);  // else: a late one admin() gave up on
        });
        done.swap(event_completions_);
    }
    for (const proto::Cqe& cqe : done) handle_event(cqe);
}

// One event: its log page read (which ends it), a line in the journal, and
// the request made again.
void Controller::handle_event(const proto::Cqe& cqe) {
    const proto::Status status = proto::Status::from_cqe(cqe.status);
    if (!status.ok()) {
        // A reset ended it (the reset asks again), or the drive will not take
        // more: either way not asked again here.
        log::info("pcie {}: an Asynchronous Event Request ended with status {:#x}", bdf(), status.value);
        return;
    }
    const DriveEvent event = parse_drive_event(cqe.dw0);
    std::array<uint8_t, 4096> page{};
    auto read = admin(get_log_page(event.log, 0xffffffff, event_log_bytes(event.log), admin_data_iova()),
                      std::chrono::seconds(10), page.data());
    if (!read) {
        log::warn("pcie {}: the drive reports {}; reading its log page failed: {}", bdf(), describe_event(event),
                  read.error().message);
    } else if (event.type == proto::AsyncEventType::SmartHealth) {
        log::warn("pcie {}: the drive reports a {}: {}", bdf(), describe_event(event), describe_smart(page));
        health_.update(health_from_smart(page));
    } else if (event.type == proto::AsyncEventType::Notice && event.log == proto::LogPageId::ChangedNamespaceList) {
        const ChangedNamespaces changed = parse_changed_namespaces(page);
        if (changed.more)
            log::warn("pcie {}: more than 1024 of the drive's namespaces changed; nvmfd serves each as it was when "
                      "added, until it is removed and added again",
                      bdf());
        for (uint32_t nsid : changed.nsids) {
            auto ns = identify_namespace(nsid);
            if (ns)
                log::warn("pcie {}: namespace {} changed on the drive: it now has {} blocks of {} bytes; nvmfd "
                          "serves it as it was when added, until it is removed and added again",
                          bdf(), nsid, ns->blocks, ns->block_size);
            else
                log::warn("pcie {}: namespace {} changed on the drive and is no longer usable: {}", bdf(), nsid,
                          ns.error().message);
        }
    } else {
        log::notice("pcie {}: the drive reports {}", bdf(), describe_event(event));
    }
    std::lock_guard lock(admin_mutex_);
    if (!dead_) request_event();
}

}  // namespace nvmfd::plugins::pcie
