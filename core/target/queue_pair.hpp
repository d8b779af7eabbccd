// The core's side of one connection (a submission/completion queue pair).
// It parses each command and picks its handler (two-phase dispatch as in
// the kernel's nvmet), completes commands back to the transport, and ties
// the connection to its controller once Connect succeeds.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>

#include "core/auth/dhchap_transaction.hpp"
#include "core/plugin/transport.hpp"
#include "core/runtime/buffer_pool.hpp"
#include "core/target/admission_wait.hpp"
#include "core/target/controller.hpp"
#include "core/target/snapshot.hpp"

namespace nvmfd::target {

class Target;

class QueuePair final : public plugin::QueueHandler, private runtime::BufferPool::Waiter {
public:
    QueuePair(Target& target, plugin::TransportQueue& transport, uint16_t port_id,
              const plugin::TransportLimits& limits);
    ~QueuePair() override;

    static QueuePair& of(plugin::Request& req) { return static_cast<QueuePair&>(*req.handler); }

    // plugin::QueueHandler
    bool prepare(plugin::Request& req) override;
    void execute(plugin::Request& req) override;
    void release(plugin::Request& req) override;
    void fail(plugin::Request& req, proto::Status status) override { complete(req, status); }
    void on_close_begin() override;
    void on_closed() override;
    bool established() const override { return controller_ && !awaiting_authentication(); }

    // For command handlers.
    void complete(plugin::Request& req, proto::Status status);
    void complete_error(plugin::Request& req, proto::Status status, uint16_t error_location);
    // Get a controller-to-host data buffer for req from the reactor's pool; if
    // the pool is exhausted the request waits and `then` runs once it has one.
    // Only the first `pool_bytes` come from the pool; the rest of the transfer
    // is the shared zero page (for data known to be zero).
    void with_data_buffer(plugin::Request& req, void (*then)(plugin::Request&), uint32_t pool_bytes = UINT32_MAX);
    Target& target() { return target_; }
    plugin::TransportQueue& transport() { return transport_; }
    runtime::Reactor& reactor() { return reactor_; }
    unsigned reactor_id() const { return reactor_id_; }
    uint16_t port_id() const { return port_id_; }
    uint16_t qid() const { return qid_; }
    bool connected() const { return controller_ != nullptr; }
    Controller* controller() { return controller_.get(); }
    const std::shared_ptr<Controller>& controller_ptr() { return controller_; }
    const plugin::TransportLimits& limits() const { return limits_; }
    // The data length a command's SGL descriptor gives (24 bits for a keyed
    // descriptor on a transport that uses them).
    uint32_t sgl_data_length(const proto::SglDescriptor& sgl) const;
    const TargetSnapshot& snapshot() const;
    // This controller's subsystem and port in the current snapshot (null if
    // removed since), refreshed when a new snapshot arrives.
    const Subsystem* subsystem();
    const Port* port();
    void bind(std::shared_ptr<Controller> ctrl, uint16_t qid, uint32_t sq_size);
    std::string peer_address() const { return transport_.peer_address(); }
    // An admin Connect waiting for the admission hook (see exec_fabrics.cpp).
    AdmissionWait& admission() { return admission_; }

    // In-band authentication of this queue (exec_auth.cpp): required when
    // the host has a DH-HMAC-CHAP secret; until it succeeds only Connect,
    // Authentication Send/Receive and Disconnect are accepted.
    struct Authentication {
        bool required = false;
        bool authenticated = false;
        // Made with `required`, at Connect; shared with the auth worker running
        // it (it outlives a queue that closes meanwhile).
        std::shared_ptr<auth::DhchapTransaction> transaction;
        std::vector<uint8_t> outgoing;  // the message an Authentication Receive is sending
        // While a worker runs the transaction: the command it serves, and the
        // token its answer must find alive (dropped when the queue closes).
        plugin::Request* working = nullptr;
        std::shared_ptr<int> token;
    };
    Authentication& auth() { return auth_; }
    bool awaiting_authentication() const { return auth_.required && !auth_.authenticated; }

private:
    // Whether `sgl` is this transport's descriptor for data it moves itself
    // (NVMe/TCP: Transport SGL Data Block; NVMe/RDMA: Keyed SGL Data Block).
    bool transport_moves(const proto::SglDescriptor& sgl) const;
    void refresh_cache();
    void on_buffers_available() override;

    Target& target_;
    plugin::TransportQueue& transport_;
    runtime::Reactor& reactor_;
    const unsigned reactor_id_;
    const uint16_t port_id_;
    const plugin::TransportLimits limits_;
    std::shared_ptr<Controller> controller_;
    uint16_t qid_ = 0;
    uint32_t sq_size_ = 0;
    uint32_t sq_head_ = 0;

    uint64_t cached_generation_ = UINT64_MAX;
    const Subsystem* cached_subsystem_ = nullptr;
    const Port* cached_port_ = nullptr;

    bool take_data_buffer(plugin::Request& req, uint32_t pool_bytes);

    struct WaitingForBuffer {
        plugin::Request* req;
        void (*then)(plugin::Request&);
        uint32_t pool_bytes;
    };
    std::deque<WaitingForBuffer> waiting_for_buffers_;
    AdmissionWait admission_;
    Authentication auth_;
    bool closing_ = false;
};

}  // namespace nvmfd::target
