#include "tools/host/controller.hpp"

#include <algorithm>
#include <cstring>
#include <fmt/format.h>
#include <stdexcept>
#include <thread>

#include "tools/host/commands.hpp"
#include "tools/host/errors.hpp"

namespace nvmfd::host {

using proto::Status;
namespace property = proto::property;
namespace csts = proto::csts;

namespace {

std::string status_text(Status s) {
    return fmt::format("{} (SCT {} SC {:#04x})", proto::status_name(s), static_cast<unsigned>(s.sct()), s.sc());
}

// CAP fields used here (NVMe base spec, Controller Capabilities).
uint32_t cap_timeout_ms(uint64_t cap) { return static_cast<uint32_t>((cap >> 24) & 0xff) * 500; }
uint32_t cap_mpsmin(uint64_t cap) { return static_cast<uint32_t>((cap >> 48) & 0xf); }

constexpr uint32_t kCcIosqes = 6u << 16;  // 64-byte SQEs
constexpr uint32_t kCcIocqes = 4u << 20;  // 16-byte CQEs
constexpr uint32_t kCcShnNormal = 1u << 14;
constexpr uint32_t kCcShnMask = 3u << 14;

}  // namespace

std::string describe_connect_failure(const Completion& c) {
    std::string text = status_text(c.status);
    if (c.status == proto::status::kConnectInvalidParameters) {
        bool in_data = c.dw0 & (1u << 16);
        text += fmt::format(", bad field at byte {} of the Connect {}", c.dw0 & 0xffff, in_data ? "data" : "command");
    }
    return text;
}

Controller Controller::connect(const Endpoint& endpoint, ControllerOptions options) {
    if (options.subnqn.empty()) options.subnqn = proto::kDiscoveryNqn;
    if (options.empty_hostnqn)
        options.host.hostnqn.clear();
    else if (options.host.hostnqn.empty())
        options.host = default_host_identity();
    Controller c;
    c.endpoint_ = endpoint;
    c.options_ = options;
    c.identify_ = std::make_unique<proto::IdentifyController>();
    c.admin_ = std::make_unique<Queue>(Connection::open(endpoint, options.transport), 0, options.admin_depth,
                                       options.queue);
    c.connect_admin();
    c.cap_ = c.read_property(property::kCap);
    c.version_ = static_cast<uint32_t>(c.read_property(property::kVs));
    if (options.enable) c.enable();
    if (options.enable && options.identify) {
        Status s = c.identify_controller(*c.identify_);
        if (!s.ok()) throw StatusError(s, 0, "Identify Controller failed: " + status_text(s));
    }
    return c;
}

void Controller::connect_admin() {
    proto::ConnectData data = cmd::connect_data(options_.host.hostid, proto::kDynamicControllerId, options_.subnqn,
                                                options_.host.hostnqn);
    cmd::ConnectParams params{0, options_.admin_depth, options_.kato_ms, false};
    Completion c = admin_->execute(cmd::connect(params),
                                   Transfer::to_controller(pdu::as_bytes_of(data), DataPlacement::InCapsule));
    if (!c.status.ok())
        throw StatusError(c.status, c.dw0,
                          fmt::format("Connect to {} as {} failed: {}", options_.subnqn, options_.host.hostnqn,
                                      describe_connect_failure(c)));
    cntlid_ = static_cast<uint16_t>(c.dw0 & 0xffff);
    authenticate_if_asked(*admin_, c.dw0);
}

void Controller::authenticate_if_asked(Queue& queue, uint32_t connect_dw0) {
    uint16_t authreq = static_cast<uint16_t>(connect_dw0 >> 16);
    if (authreq == 0) return;
    if (!options_.dhchap)
        throw Error(fmt::format("controller {} of {} requires in-band authentication (AUTHREQ {:#x}) and no "
                                "DH-HMAC-CHAP secret was given",
                                cntlid_, options_.subnqn, authreq));
    last_authentication_ = authenticate(queue, options_.host.hostnqn, options_.subnqn, *options_.dhchap);
}

bool Controller::is_discovery() const {
    if (identify_->cntrltype == static_cast<uint8_t>(proto::ControllerType::Discovery)) return true;
    return options_.subnqn == proto::kDiscoveryNqn;
}

uint64_t Controller::max_transfer_bytes() const {
    if (identify_->mdts == 0) return 0;
    return (uint64_t(1) << identify_->mdts) * (uint64_t(4096) << cap_mpsmin(cap_));
}

uint32_t Controller::io_in_capsule_bytes() const {
    uint32_t capsule = identify_->ioccsz * 16;
    return capsule > sizeof(proto::Sqe) ? capsule - static_cast<uint32_t>(sizeof(proto::Sqe)) : 0;
}

Completion Controller::execute(const proto::Sqe& sqe, const Transfer& transfer, std::chrono::milliseconds timeout) {
    return admin_->execute(sqe, transfer, timeout);
}

Completion Controller::property_get(uint32_t offset) {
    return execute(cmd::property_get(offset, cmd::property_size(offset)));
}

Completion Controller::property_set(uint32_t offset, uint64_t value) {
    return execute(cmd::property_set(offset, value, cmd::property_size(offset)));
}

uint64_t Controller::read_property(uint32_t offset) {
    Completion c = property_get(offset);
    if (!c.status.ok())
        throw StatusError(c.status, c.dw0,
                          fmt::format("Property Get of offset {:#x} failed: {}", offset, status_text(c.status)));
    return cmd::property_size(offset) == cmd::PropertySize::Eight ? c.result64() : c.dw0;
}

void Controller::write_property(uint32_t offset, uint64_t value) {
    Completion c = property_set(offset, value);
    if (!c.status.ok())
        throw StatusError(c.status, c.dw0,
                          fmt::format("Property Set of offset {:#x} to {:#x} failed: {}", offset, value,
                                      status_text(c.status)));
}

void Controller::wait_status(uint32_t mask, uint32_t value, std::chrono::milliseconds timeout, const char* what) {
    Deadline deadline = deadline_after(timeout);
    auto pause = std::chrono::milliseconds(1);
    for (;;) {
        uint32_t status = static_cast<uint32_t>(read_property(property::kCsts));
        if (status & csts::kFatal)
            throw Error(fmt::format("controller {} reports fatal status (CSTS {:#x}) while {}", cntlid_, status, what));
        if ((status & mask) == value) return;
        if (Clock::now() >= deadline)
            throw TimeoutError(fmt::format("controller {} not done {} after {} ms (CSTS {:#x})", cntlid_, what,
                                           timeout.count(), status));
        std::this_thread::sleep_for(pause);
        pause = std::min(pause * 2, std::chrono::milliseconds(50));
    }
}

void Controller::enable() {
    if (cap_mpsmin(cap_) != 0)
        throw Error(fmt::format("controller needs pages of at least {} bytes (CAP.MPSMIN); this host uses 4096",
                                4096u << cap_mpsmin(cap_)));
    uint32_t config = kCcIosqes | kCcIocqes;  // CSS NVM, MPS 4 KiB, round robin
    write_property(property::kCc, config);
    write_property(property::kCc, config | proto::cc::kEnable);
    auto timeout = options_.ready_timeout.count() > 0 ? options_.ready_timeout
                                                      : std::chrono::milliseconds(std::max(cap_timeout_ms(cap_), 500u));
    wait_status(csts::kReady, csts::kReady, timeout, "becoming ready (CSTS.RDY)");
}

void Controller::shutdown() {
    uint32_t config = static_cast<uint32_t>(read_property(property::kCc));
    write_property(property::kCc, (config & ~kCcShnMask) | kCcShnNormal);
    // RTD3E is in microseconds; without it give the controller 5 s.
    uint32_t rtd3e_ms = identify_->rtd3e / 1000;
    auto timeout = std::chrono::milliseconds(std::clamp<uint32_t>(rtd3e_ms, 1000, 60000));
    if (identify_->rtd3e == 0) timeout = std::chrono::milliseconds(5000);
    wait_status(csts::kShutdownMask, csts::kShutdownComplete, timeout, "shutting down (CSTS.SHST)");
}

Completion Controller::disconnect() { return execute(cmd::disconnect()); }

Status Controller::identify(proto::IdentifyCns cns, uint32_t nsid, std::span<std::byte> out, uint16_t cntid,
                            uint8_t csi) {
    return execute(cmd::identify(cns, nsid, cntid, csi), Transfer::from_controller(out)).status;
}

Status Controller::identify_controller(proto::IdentifyController& out) {
    return identify(proto::IdentifyCns::Controller, 0, std::as_writable_bytes(std::span(&out, 1)));
}

Status Controller::identify_namespace(uint32_t nsid, proto::IdentifyNamespace& out) {
    return identify(proto::IdentifyCns::Namespace, nsid, std::as_writable_bytes(std::span(&out, 1)));
}

Status Controller::active_namespaces(std::vector<uint32_t>& out, uint32_t after) {
    std::vector<std::byte> data(proto::kIdentifyDataSize);
    Status s = identify(proto::IdentifyCns::ActiveNamespaceList, after, data);
    if (s.ok()) out = parse_namespace_list(data);
    return s;
}

Status Controller::namespace_descriptors(uint32_t nsid, std::vector<NamespaceDescriptor>& out) {
    std::vector<std::byte> data(proto::kIdentifyDataSize);
    Status s = identify(proto::IdentifyCns::NamespaceDescriptorList, nsid, data);
    if (s.ok()) out = parse_namespace_descriptors(data);
    return s;
}

NamespaceGeometry Controller::namespace_geometry(uint32_t nsid) {
    auto ns = std::make_unique<proto::IdentifyNamespace>();
    Status s = identify_namespace(nsid, *ns);
    if (!s.ok()) throw StatusError(s, 0, fmt::format("Identify Namespace {} failed: {}", nsid, status_text(s)));
    if (ns->nsze == 0) throw Error(fmt::format("namespace {} is not active (NSZE 0)", nsid));
    return host::namespace_geometry(*ns);
}

Status Controller::get_log_page(uint8_t lid, std::span<std::byte> out, uint64_t offset, uint32_t nsid, uint8_t lsp,
                                bool retain_async_event) {
    return execute(cmd::get_log_page(lid, static_cast<uint32_t>(out.size()), offset, nsid, lsp, retain_async_event),
                   Transfer::from_controller(out))
        .status;
}

Completion Controller::get_features(uint8_t fid, proto::FeatureSelect select, uint32_t cdw11,
                                    std::span<std::byte> data) {
    return execute(cmd::get_features(fid, select, cdw11),
                   data.empty() ? Transfer::none() : Transfer::from_controller(data));
}

Completion Controller::set_features(uint8_t fid, uint32_t cdw11, std::span<const std::byte> data, bool save) {
    return execute(cmd::set_features(fid, cdw11, save), data.empty() ? Transfer::none() : Transfer::to_controller(data));
}

uint16_t Controller::request_io_queues(uint16_t count) {
    if (count == 0) throw std::invalid_argument("request_io_queues(0)");
    uint32_t zero_based = count - 1u;
    Completion c = set_features(static_cast<uint8_t>(proto::FeatureId::NumberOfQueues), zero_based | (zero_based << 16));
    if (!c.status.ok())
        throw StatusError(c.status, c.dw0,
                          fmt::format("Set Features Number of Queues ({}) failed: {}", count, status_text(c.status)));
    // Granted submission and completion queues, 0's based; the smaller one limits us.
    uint32_t granted = std::min(c.dw0 & 0xffff, c.dw0 >> 16) + 1;
    return static_cast<uint16_t>(std::min<uint32_t>(granted, 0xffff));
}

Status Controller::keep_alive() { return execute(cmd::keep_alive()).status; }

uint16_t Controller::submit_async_event(CompletionCallback callback) {
    SubmitFlags flags;
    flags.no_timeout = true;
    uint16_t cid = admin_->submit(cmd::async_event_request(), Transfer::none(), callback, flags);
    admin_->flush();
    return cid;
}

IoQueue Controller::connect_io_queue(uint16_t qid, uint16_t depth, IoQueueOptions options) {
    if (qid == 0) throw std::invalid_argument("I/O queue ids start at 1");
    uint32_t entries = options.queue_size ? options.queue_size : uint32_t(depth) + 1;
    if (depth == 0 || entries <= depth)
        throw std::invalid_argument(
            fmt::format("queue depth {} needs a queue of at least {} entries, not {}", depth, depth + 1, entries));
    if (entries - 1 > max_queue_entries())
        throw std::invalid_argument(fmt::format("a queue of {} entries needs SQSIZE {} but the controller allows at "
                                                "most {} (CAP.MQES, 0's based)",
                                                entries, entries - 1, max_queue_entries()));
    auto queue = std::make_unique<Queue>(Connection::open(endpoint_, options_.transport), qid, depth, options.queue);
    queue->set_in_capsule_limit(io_in_capsule_bytes());

    proto::ConnectData data =
        cmd::connect_data(options_.host.hostid, cntlid_, options_.subnqn, options_.host.hostnqn);
    auto sqsize = static_cast<uint16_t>(entries - 1);  // 0's based
    cmd::ConnectParams params{qid, sqsize, options.kato_ms, options.disable_sq_flow_control};
    Completion c = queue->execute(cmd::connect(params),
                                  Transfer::to_controller(pdu::as_bytes_of(data), DataPlacement::InCapsule));
    if (!c.status.ok())
        throw StatusError(c.status, c.dw0,
                          fmt::format("Connect of I/O queue {} to controller {} of {} failed: {}", qid, cntlid_,
                                      options_.subnqn, describe_connect_failure(c)));
    authenticate_if_asked(*queue, c.dw0);
    queue->set_sq_flow_control_disabled(options.disable_sq_flow_control);
    return IoQueue(std::move(queue));
}

}  // namespace nvmfd::host
