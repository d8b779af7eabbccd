// A target and a transport with no wire, for tests of what QueuePair does
// with commands: one reactor, one subsystem open to any host with a malloc
// namespace (NSID 1, 512-byte blocks, 1 MiB) on port 1, published as the
// control plane would; and FakeQueue, a TransportQueue whose limits and
// Connect binding a test chooses (TCP-like or RDMA-like) and which hands the
// core one command at a time, the way a transport does (prepare, fetch the
// write data into pool pages, execute, release once the response "left").
//
// Test code runs on the test thread; FakeQueue runs everything that touches
// the queue pair on the reactor and waits for it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/plugin/loader.hpp"
#include "core/plugin/transport.hpp"
#include "core/proto/fabrics.hpp"
#include "core/runtime/reactor.hpp"
#include "core/target/target.hpp"

namespace nvmfd::test {

inline constexpr const char* kQpSubsystemNqn = "nqn.2026-11.io.nvmfd:queue-pair-unit";
inline constexpr const char* kQpHostNqn = "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-0000000000a1";
inline constexpr uint16_t kQpPortId = 1;

class QueuePairFixture {
public:
    QueuePairFixture();
    ~QueuePairFixture();

    target::Target& target() { return target_; }
    runtime::Reactor& reactor() { return reactors_.at(0); }
    // Run fn on the reactor and wait for it.
    void run(const std::function<void()>& fn);
    // The reasons of the admin-queue Connects refused so far.
    std::vector<std::string> refusals();
    // Namespace `nsid` on `device` joins the subsystem (a new snapshot).
    void add_namespace(uint32_t nsid, std::unique_ptr<plugin::BlockDevice> device);

private:
    plugin::PluginLoader loader_;  // outlives everything the plugin made
    std::unique_ptr<plugin::Backend> backend_;
    runtime::ReactorGroup reactors_;
    target::Target target_;
    std::mutex refusals_mutex_;
    std::vector<std::string> refusals_;
    std::shared_ptr<target::TargetSnapshot> snapshot_;
};

// What became of one command.
struct Outcome {
    proto::Cqe cqe{};
    uint16_t error_location = 0xffff;  // as the error log page records it
    uint32_t transfer_length = 0;      // what prepare() decided
    std::vector<uint8_t> data;         // controller-to-host data, when it succeeded

    proto::Status status() const { return proto::Status::from_cqe(cqe.status); }
};

class FakeQueue final : public plugin::TransportQueue {
public:
    FakeQueue(QueuePairFixture& fixture, plugin::TransportLimits limits, plugin::ConnectBinding binding = {});
    ~FakeQueue();
    FakeQueue(const FakeQueue&) = delete;
    FakeQueue& operator=(const FakeQueue&) = delete;

    // One command and the data a host would send for it (padded with zeros
    // to the command's length). nullopt if the core did not complete it.
    std::optional<Outcome> submit(const proto::Sqe& sqe, std::span<const uint8_t> data = {});
    // The command submit() left waiting (an Asynchronous Event Request),
    // if it completed since; its slot is free again then.
    std::optional<Outcome> completed_later();
    const plugin::TransportLimits& limits() const { return limits_; }
    // The descriptor this transport's host puts on a command moving
    // `length` bytes the transport carries (keyed or TCP's transport SGL).
    proto::SglDescriptor data_sgl(uint32_t length) const;
    uint32_t installed_depth() const { return installed_depth_; }

    // plugin::TransportQueue
    void queue_response(plugin::Request& req) override;
    bool install_queue(uint16_t qid, uint32_t depth) override;
    void close(std::string_view) override { close_asked_ = true; }
    std::string peer_address() const override { return "fake"; }
    runtime::Reactor& reactor() override { return fixture_.reactor(); }
    void set_sq_flow_control_disabled(bool) override {}
    std::string_view tls_identity() const override { return {}; }
    plugin::ConnectBinding connect_binding() const override { return binding_; }

private:
    void submit_on_reactor(const proto::Sqe& sqe, std::span<const uint8_t> data);
    void shut_down();

    QueuePairFixture& fixture_;
    const plugin::TransportLimits limits_;
    const plugin::ConnectBinding binding_;
    std::unique_ptr<plugin::QueueHandler> handler_;
    plugin::Request req_;  // one slot: every command here completes before the next
    std::vector<iovec> iovs_;
    std::optional<Outcome> outcome_;
    uint32_t installed_depth_ = 0;
    bool close_asked_ = false;
    bool closed_ = false;
};

// Limits of a transport like NVMe/TCP and one like NVMe/RDMA.
plugin::TransportLimits tcp_limits();
plugin::TransportLimits rdma_limits();

// Commands as a host builds them; `sgl` describes the data (if any).
proto::Sqe connect_sqe(uint16_t qid, uint16_t sqsize, const proto::SglDescriptor& sgl);
std::vector<uint8_t> connect_data(uint16_t cntlid);
proto::Sqe enable_sqe(const proto::SglDescriptor& sgl);  // Property Set CC.EN = 1
proto::Sqe identify_controller_sqe(const proto::SglDescriptor& sgl);
proto::Sqe error_log_sqe(const proto::SglDescriptor& sgl);  // the newest entry, 64 bytes
proto::Sqe read_sqe(uint64_t slba, uint32_t blocks, const proto::SglDescriptor& sgl);
proto::Sqe write_sqe(uint64_t slba, uint32_t blocks, const proto::SglDescriptor& sgl);

// An admin queue connected to the subsystem and enabled; nullopt and
// nothing connected if the target refused.
std::optional<uint16_t> connect_admin(FakeQueue& admin);
// An I/O queue of controller `cntlid`; the Connect's outcome.
std::optional<Outcome> connect_io(FakeQueue& io, uint16_t qid, uint16_t cntlid);

}  // namespace nvmfd::test
