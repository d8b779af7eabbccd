// A transport for the command fuzzer: it hands the core whole commands the
// way a transport does (prepare, fetch the write data into pool pages,
// execute, release once the response "left"), with no wire underneath.
// Reactor thread only.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "core/plugin/transport.hpp"
#include "core/target/target.hpp"

namespace nvmfd::fuzz {

class FakeQueue final : public plugin::TransportQueue {
public:
    FakeQueue(target::Target& target, runtime::Reactor& reactor, uint16_t port_id);
    ~FakeQueue();
    FakeQueue(const FakeQueue&) = delete;
    FakeQueue& operator=(const FakeQueue&) = delete;

    // One command with the data a host would send for it (write data shorter
    // than the command's length is padded with zeros). Ignored once closed.
    void submit(const proto::Sqe& sqe, std::span<const uint8_t> data);
    // The completion of the last command that completed, if any.
    const std::optional<proto::Cqe>& last_completion() const { return last_; }
    // Close as a transport does: the core completes what it holds back,
    // every slot is released, then the core hears the queue is gone.
    void shut_down();
    bool closed() const { return closed_; }

    // plugin::TransportQueue
    void queue_response(plugin::Request& req) override;
    bool install_queue(uint16_t qid, uint32_t depth) override;
    void close(std::string_view reason) override;
    std::string peer_address() const override { return "fuzz"; }
    std::string_view tls_identity() const override { return {}; }  // never TLS
    runtime::Reactor& reactor() override { return reactor_; }
    void set_sq_flow_control_disabled(bool) override {}

private:
    struct Slot {
        plugin::Request req;
        std::vector<iovec> iovs;
        bool busy = false;
    };
    Slot* free_slot();
    void release(Slot& s);
    void release_completed();

    runtime::Reactor& reactor_;
    const plugin::TransportLimits limits_;
    std::unique_ptr<plugin::QueueHandler> handler_;
    std::vector<std::unique_ptr<Slot>> slots_;
    std::vector<Slot*> completed_;  // responses "sent", to release
    std::optional<proto::Cqe> last_;
    bool close_asked_ = false;
    bool closed_ = false;
};

}  // namespace nvmfd::fuzz
