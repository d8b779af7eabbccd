// A controller: the association between one host and one subsystem (or the
// discovery service) made by an admin-queue Connect, plus the I/O queues the
// host connects to it later (dynamic controller model).
//
// Ownership: the admin queue's reactor owns the controller's mutable state
// (CC/CSTS, features, AERs, logs, keep-alive). I/O queues on other reactors
// only read the `ready` flag and note activity for keep-alive; the queue
// table is guarded by a mutex that is taken on connect and teardown only.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/plugin/request.hpp"
#include "core/proto/log_pages.hpp"
#include "core/runtime/reactor.hpp"

namespace nvmfd::target {

class QueuePair;
class Target;

struct ControllerIdentity {
    uint16_t cntlid = 0;
    std::string subnqn;
    std::string hostnqn;
    std::array<uint8_t, 16> hostid{};
    uint16_t port_id = 0;
    bool discovery = false;
};

// What an admin or a status query sees of a controller.
struct ControllerInfo {
    ControllerIdentity identity;
    std::string host_address;
    uint32_t kato_ms = 0;
    uint16_t io_queues = 0;
    bool enabled = false;
    // For a controller that is gone: why ("keep-alive timeout", "admin queue
    // closed" when the host left, "disconnected by the administrator", ...).
    std::string end_reason;
};

class Controller : public std::enable_shared_from_this<Controller> {
public:
    Controller(Target& target, ControllerIdentity identity, QueuePair& admin_queue, uint32_t kato_ms);
    ~Controller();

    const ControllerIdentity& identity() const { return identity_; }
    uint16_t cntlid() const { return identity_.cntlid; }
    bool is_discovery() const { return identity_.discovery; }
    runtime::Reactor& admin_reactor() const { return admin_reactor_; }
    ControllerInfo info() const;

    // --- any thread ---
    bool ready() const { return ready_.load(std::memory_order_acquire); }
    void note_activity() {
        if (!activity_.load(std::memory_order_relaxed)) activity_.store(true, std::memory_order_relaxed);
    }
    // Queue table: returns false (and attaches nothing) if qid is taken or out of range.
    bool attach_io_queue(uint16_t qid, QueuePair& qp);
    void detach_io_queue(uint16_t qid, QueuePair& qp);
    uint16_t granted_io_queues() const { return granted_io_queues_.load(std::memory_order_relaxed); }
    void add_error(const plugin::Request& req, uint16_t sqid, proto::Status status, uint64_t lba,
                   proto::TransportType trtype);
    // Tear the whole association down (closes the admin and every I/O queue).
    // Safe from any thread; the work happens on the queues' reactors.
    void shut_down(std::string reason);

    // --- admin reactor only ---
    uint32_t cc() const { return cc_; }
    uint32_t csts() const { return csts_; }
    uint64_t cap() const;
    void write_cc(uint32_t value);
    void start_keep_alive();
    void stop_keep_alive();
    uint32_t kato_ms() const { return kato_ms_; }
    void set_kato_ms(uint32_t ms);
    void set_granted_io_queues(uint16_t n) { granted_io_queues_.store(n, std::memory_order_relaxed); }
    uint32_t async_event_config() const { return aec_; }
    void set_async_event_config(uint32_t v) { aec_ = v; }
    bool volatile_write_cache() const { return vwc_enabled_; }
    void set_volatile_write_cache(bool on) { vwc_enabled_ = on; }
    uint32_t feature_value(uint8_t fid) const;
    void set_feature_value(uint8_t fid, uint32_t v);
    void detach_admin_queue();

    // Asynchronous events.
    bool park_aer(plugin::Request& req);  // false: AER limit exceeded
    void abort_parked_aers();
    void raise_event(proto::AsyncEventType type, proto::AsyncNotice notice, proto::LogPageId log);
    // A device of the subsystem raised SMART critical warnings `raised`:
    // an event if the host enabled any of them (AEC bits 7:0).
    void critical_warning_raised(uint8_t raised);
    void clear_event_mask(proto::LogPageId log);  // the host read the log page (RAE=0)
    void namespace_changed(uint32_t nsid);
    std::vector<uint32_t> take_changed_namespaces(bool retain);

    std::vector<proto::ErrorLogEntry> error_log() const;
    uint64_t error_count() const;

    static constexpr unsigned kAerLimit = 4;  // AERL + 1
    static constexpr size_t kErrorLogEntries = 64;

private:
    void keep_alive_tick();
    void queue_event(uint32_t dw0, proto::LogPageId log);
    void deliver_events();
    void enable();
    void disable(bool shutdown);
    void close_io_queues(const std::string& reason);

    Target& target_;
    const ControllerIdentity identity_;
    runtime::Reactor& admin_reactor_;
    QueuePair* admin_queue_;  // null once the admin queue is gone

    std::atomic<bool> ready_{false};
    std::atomic<bool> activity_{false};
    std::atomic<bool> shutting_down_{false};
    std::string end_reason_;  // set once, by the first shut_down()
    std::atomic<uint16_t> granted_io_queues_;

    // admin reactor state
    uint32_t cc_ = 0;
    uint32_t csts_ = 0;
    uint32_t kato_ms_ = 0;
    runtime::Reactor::TimerId keep_alive_timer_ = 0;
    uint32_t aec_ = 0;
    bool vwc_enabled_ = true;
    std::array<uint32_t, 256> feature_values_{};
    std::vector<plugin::Request*> parked_aers_;
    std::deque<uint32_t> pending_events_;   // AER completion DW0 values not yet delivered
    uint32_t masked_logs_ = 0;               // bit per log page with an undelivered/unread event
    std::vector<uint32_t> changed_namespaces_;
    bool changed_namespaces_overflow_ = false;

    mutable std::mutex mutex_;  // guards io_queues_ and the error log
    std::vector<QueuePair*> io_queues_;
    std::deque<proto::ErrorLogEntry> errors_;
    uint64_t error_count_ = 0;
    std::string host_address_;
};

}  // namespace nvmfd::target
