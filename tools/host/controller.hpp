// A host's association with one NVMe-oF controller: the admin queue, the
// fabrics setup (Connect, properties, CC.EN / CSTS.RDY, shutdown), admin
// commands, and the I/O queues connected to the same controller.
//
//   Controller ctrl = Controller::connect({"127.0.0.1", 4420}, {.subnqn = "nqn..."});
//   IdentifyNamespace ns; ctrl.identify_namespace(1, ns);
//   IoQueue io = ctrl.connect_io_queue(1, 32);
//
// Setup failures throw (StatusError carries the NVMe status); commands
// after setup return their status.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/proto/fabrics.hpp"
#include "core/proto/identify.hpp"
#include "core/proto/log_pages.hpp"
#include "core/proto/nvme.hpp"
#include "core/proto/status.hpp"
#include "tools/host/connection.hpp"
#include "tools/host/dhchap.hpp"
#include "tools/host/host_identity.hpp"
#include "tools/host/io_queue.hpp"
#include "tools/host/parse.hpp"
#include "tools/host/queue.hpp"

namespace nvmfd::host {

struct ControllerOptions {
    std::string subnqn;  // empty: the well-known discovery NQN
    HostIdentity host;   // empty NQN: default_host_identity()
    bool empty_hostnqn = false;  // send an empty Host NQN, as spdk_nvme_perf does without hostnqn:
    TransportOptions transport;
    QueueOptions queue;
    uint16_t admin_depth = 31;  // commands in flight; Connect SQSIZE is the same number (0's based)
    uint32_t kato_ms = 0;       // 0: no keep-alive (discovery controllers may impose their own)
    bool enable = true;         // CC.EN=1 and wait for CSTS.RDY
    bool identify = true;       // Identify Controller after enabling
    std::chrono::milliseconds ready_timeout{0};  // 0: CAP.TO
    // DH-HMAC-CHAP on every queue when the controller asks (AUTHREQ.ATR);
    // without credentials such a controller is refused with an error.
    std::optional<DhchapCredentials> dhchap;
};

struct IoQueueOptions {
    QueueOptions queue;
    bool disable_sq_flow_control = false;  // lets the target complete reads with C2HData SUCCESS
    uint32_t kato_ms = 0;
    // Entries of the queue (Connect's SQSIZE + 1); 0: depth + 1, the fewest
    // that hold `depth` commands. More entries than that only change what the
    // target allocates: the host still keeps at most `depth` in flight.
    uint32_t queue_size = 0;
};

class Controller {
public:
    static Controller connect(const Endpoint& endpoint, ControllerOptions options = {});

    Controller(Controller&&) noexcept = default;
    Controller& operator=(Controller&&) noexcept = default;

    Queue& admin() { return *admin_; }
    uint16_t cntlid() const { return cntlid_; }
    uint64_t cap() const { return cap_; }
    uint32_t version() const { return version_; }
    const proto::IdentifyController& identify_data() const { return *identify_; }
    const Endpoint& endpoint() const { return endpoint_; }
    const ControllerOptions& options() const { return options_; }
    bool is_discovery() const;
    // Largest transfer per command (MDTS); 0 when the controller sets no limit.
    uint64_t max_transfer_bytes() const;
    // Write data that fits in an I/O command capsule (IOCCSZ * 16 - 64).
    uint32_t io_in_capsule_bytes() const;
    uint16_t max_queue_entries() const { return static_cast<uint16_t>(cap_ & 0xffff); }  // CAP.MQES, 0's based

    // Fabrics properties. The size (4 or 8 bytes) follows from the offset.
    Completion property_get(uint32_t offset);
    Completion property_set(uint32_t offset, uint64_t value);
    uint64_t read_property(uint32_t offset);  // throws StatusError
    void write_property(uint32_t offset, uint64_t value);
    void enable();    // CC with IOSQES 6, IOCQES 4, MPS 4 KiB, then EN; waits for CSTS.RDY
    void shutdown();  // CC.SHN normal; waits for CSTS.SHST complete
    Completion disconnect();

    proto::Status identify(proto::IdentifyCns cns, uint32_t nsid, std::span<std::byte> out, uint16_t cntid = 0,
                           uint8_t csi = 0);
    proto::Status identify_controller(proto::IdentifyController& out);
    proto::Status identify_namespace(uint32_t nsid, proto::IdentifyNamespace& out);
    proto::Status active_namespaces(std::vector<uint32_t>& out, uint32_t after = 0);
    proto::Status namespace_descriptors(uint32_t nsid, std::vector<NamespaceDescriptor>& out);
    // Blocks, block size: Identify Namespace decoded; throws StatusError.
    NamespaceGeometry namespace_geometry(uint32_t nsid);
    proto::Status get_log_page(uint8_t lid, std::span<std::byte> out, uint64_t offset = 0,
                               uint32_t nsid = proto::kBroadcastNsid, uint8_t lsp = 0, bool retain_async_event = false);
    Completion get_features(uint8_t fid, proto::FeatureSelect select = proto::FeatureSelect::Current,
                            uint32_t cdw11 = 0, std::span<std::byte> data = {});
    Completion set_features(uint8_t fid, uint32_t cdw11, std::span<const std::byte> data = {}, bool save = false);
    // Set Features Number of Queues; returns how many I/O queues the target granted.
    uint16_t request_io_queues(uint16_t count);
    proto::Status keep_alive();
    // Stays outstanding until the target reports an event; never times out.
    uint16_t submit_async_event(CompletionCallback callback);
    Completion execute(const proto::Sqe& sqe, const Transfer& transfer = Transfer::none(),
                       std::chrono::milliseconds timeout = std::chrono::milliseconds(0));

    // A new TCP connection, Connect to `qid` of this controller (its CNTLID).
    IoQueue connect_io_queue(uint16_t qid, uint16_t depth, IoQueueOptions options = {});

    // What the last DH-HMAC-CHAP transaction chose (none yet: hash 0).
    const DhchapResult& last_authentication() const { return last_authentication_; }
    // A re-authentication the host asks for: a new transaction on the admin queue.
    DhchapResult reauthenticate() {
        last_authentication_ = authenticate(*admin_, options_.host.hostnqn, options_.subnqn, options_.dhchap.value());
        return last_authentication_;
    }

private:
    Controller() = default;
    void connect_admin();
    void authenticate_if_asked(Queue& queue, uint32_t connect_dw0);
    void wait_status(uint32_t mask, uint32_t value, std::chrono::milliseconds timeout, const char* what);

    Endpoint endpoint_;
    ControllerOptions options_;
    DhchapResult last_authentication_;
    std::unique_ptr<Queue> admin_;
    std::unique_ptr<proto::IdentifyController> identify_;
    uint16_t cntlid_ = 0;
    uint64_t cap_ = 0;
    uint32_t version_ = 0;
};

// "Connect ... failed: connect: invalid parameters (sct 1 sc 0x82), bad field: byte 256 of the Connect data"
std::string describe_connect_failure(const Completion& completion);

}  // namespace nvmfd::host
