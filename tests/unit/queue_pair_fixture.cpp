#include "tests/unit/queue_pair_fixture.hpp"

#include <algorithm>
#include <cstring>
#include <future>
#include <stdexcept>

#include "core/proto/identify.hpp"
#include "core/runtime/log.hpp"
#include "core/target/identifiers.hpp"
#include "core/target/snapshot.hpp"

namespace nvmfd::test {
namespace {

std::shared_ptr<target::Namespace> malloc_namespace(plugin::Backend& backend, unsigned reactors) {
    auto dev = backend.open({{"size", "1M"}, {"block_size", "512"}});
    if (!dev) throw std::runtime_error(dev.error().describe());
    return std::make_shared<target::Namespace>(1, "malloc", std::move(*dev), target::generate_uuid(),
                                               target::generate_nguid(), reactors);
}

}  // namespace

QueuePairFixture::QueuePairFixture()
    : loader_(NVMFD_TEST_PLUGIN_DIR),
      reactors_(1, runtime::ReactorOptions{.buffer_pool_bytes = 4u << 20}),
      target_(reactors_, target::TargetOptions{}) {
    log::set_level(log::Level::Warning);  // refused Connects are notices
    auto loaded = loader_.load(plugin::PluginKind::Backend, "malloc");
    if (!loaded) throw std::runtime_error(loaded.error().describe());
    backend_ = (*loaded)->descriptor->create_backend({});

    auto sub = std::make_shared<target::Subsystem>();
    sub->nqn = kQpSubsystemNqn;
    sub->serial = "QPUNIT";
    sub->model = "nvmfd unit";
    sub->allow_any_host = true;
    sub->namespaces.push_back({malloc_namespace(*backend_, reactors_.size()), 1, {}});
    auto port = std::make_shared<target::Port>();
    port->config.id = kQpPortId;
    port->config.transport = "tcp";
    port->config.family = "ipv4";
    port->config.address = "127.0.0.1";
    port->config.service = "4420";
    port->subsystems = {kQpSubsystemNqn};
    snapshot_ = std::make_shared<target::TargetSnapshot>();
    snapshot_->generation = 1;
    snapshot_->discovery_generation = 1;
    snapshot_->subsystems = {sub};
    snapshot_->ports = {port};
    snapshot_->ana_groups = {target::AnaGroup{1}};
    target_.publish(snapshot_);
    target_.set_refusal_observer([this](const target::ConnectRefusal& r) {
        std::lock_guard lock(refusals_mutex_);
        refusals_.push_back(r.reason);
    });
    reactors_.start();
    target_.set_reactors_running(true);
}

QueuePairFixture::~QueuePairFixture() { reactors_.stop(); }

void QueuePairFixture::run(const std::function<void()>& fn) {
    std::promise<void> done;
    reactor().post([&] {
        fn();
        done.set_value();
    });
    done.get_future().get();
}

void QueuePairFixture::add_namespace(uint32_t nsid, std::unique_ptr<plugin::BlockDevice> device) {
    auto next = std::make_shared<target::TargetSnapshot>(*snapshot_);
    auto sub = std::make_shared<target::Subsystem>(*next->subsystems.at(0));
    sub->namespaces.push_back({std::make_shared<target::Namespace>(nsid, "test", std::move(device),
                                                                   target::generate_uuid(), target::generate_nguid(),
                                                                   reactors_.size()),
                               1,
                               {}});
    next->subsystems = {sub};
    ++next->generation;
    snapshot_ = next;
    target_.publish(snapshot_);
}

std::vector<std::string> QueuePairFixture::refusals() {
    std::lock_guard lock(refusals_mutex_);
    return refusals_;
}

FakeQueue::FakeQueue(QueuePairFixture& fixture, plugin::TransportLimits limits, plugin::ConnectBinding binding)
    : fixture_(fixture), limits_(limits), binding_(binding) {
    // Room for MDTS in pages, and a zero-page tail, as a transport sizes its slots.
    iovs_.resize(2 * (limits_.max_data_transfer / 4096 + 2));
    req_.iov_storage = std::span<iovec>(iovs_);
    fixture_.run([&] { handler_ = fixture_.target().create_queue(*this, kQpPortId, limits_); });
}

FakeQueue::~FakeQueue() {
    fixture_.run([&] {
        shut_down();
        handler_.reset();
    });
}

std::optional<Outcome> FakeQueue::submit(const proto::Sqe& sqe, std::span<const uint8_t> data) {
    outcome_.reset();
    fixture_.run([&] { submit_on_reactor(sqe, data); });
    return outcome_;
}

std::optional<Outcome> FakeQueue::completed_later() {
    std::optional<Outcome> done;
    fixture_.run([&] {
        if (!outcome_) return;
        handler_->release(req_);
        done = std::move(outcome_);
        outcome_.reset();
    });
    return done;
}

void FakeQueue::submit_on_reactor(const proto::Sqe& sqe, std::span<const uint8_t> data) {
    if (closed_) return;
    req_.sqe = sqe;
    req_.iov_count = 0;
    req_.buffer_owner = plugin::BufferOwner::None;
    if (handler_->prepare(req_)) {
        if (req_.direction == proto::DataDirection::HostToController && req_.transfer_length > 0) {
            size_t n = reactor().buffers().allocate(req_.transfer_length, req_.iov_storage);
            if (n == 0) {
                handler_->fail(req_, proto::status::kTransientTransportError);
            } else {
                req_.iov_count = static_cast<uint32_t>(n);
                req_.buffer_owner = plugin::BufferOwner::Pool;
                size_t offset = 0;
                for (const iovec& v : req_.data()) {
                    size_t k = offset < data.size() ? std::min(v.iov_len, data.size() - offset) : 0;
                    if (k) std::memcpy(v.iov_base, data.data() + offset, k);
                    std::memset(static_cast<uint8_t*>(v.iov_base) + k, 0, v.iov_len - k);
                    offset += v.iov_len;
                }
                handler_->execute(req_);
            }
        } else {
            handler_->execute(req_);
        }
    }
    // The response "left": the slot is free for the next command.
    if (outcome_) handler_->release(req_);
    if (close_asked_) shut_down();
}

void FakeQueue::queue_response(plugin::Request& req) {
    Outcome o;
    o.cqe = req.cqe;
    o.error_location = req.error_location;
    o.transfer_length = req.transfer_length;
    if (req.status().ok() && req.direction == proto::DataDirection::ControllerToHost) {
        for (const iovec& v : req.data()) {
            auto* p = static_cast<const uint8_t*>(v.iov_base);
            o.data.insert(o.data.end(), p, p + v.iov_len);
        }
        o.data.resize(std::min<size_t>(o.data.size(), req.transfer_length));
    }
    outcome_ = std::move(o);
}

bool FakeQueue::install_queue(uint16_t, uint32_t depth) {
    installed_depth_ = depth;
    return true;
}

void FakeQueue::shut_down() {
    if (closed_ || !handler_) return;
    closed_ = true;
    handler_->on_close_begin();
    handler_->on_closed();
}

proto::SglDescriptor FakeQueue::data_sgl(uint32_t length) const {
    if (limits_.keyed_sgl) return proto::keyed_sgl(0x7f0000001000, length, 0x5eed1e55);
    proto::SglDescriptor d{};
    d.type = proto::sgl::kTransport;
    d.length = length;
    return d;
}

plugin::TransportLimits tcp_limits() { return plugin::TransportLimits{}; }

plugin::TransportLimits rdma_limits() {
    plugin::TransportLimits l;
    l.trtype = proto::TransportType::Rdma;
    l.keyed_sgl = true;
    return l;
}

proto::Sqe connect_sqe(uint16_t qid, uint16_t sqsize, const proto::SglDescriptor& sgl) {
    proto::ConnectCommand c{};
    c.opcode = uint8_t(proto::AdminOpcode::Fabrics);
    c.fctype = uint8_t(proto::FabricsType::Connect);
    c.sgl = sgl;
    c.qid = qid;
    c.sqsize = sqsize;
    proto::Sqe sqe;
    std::memcpy(&sqe, &c, sizeof sqe);
    return sqe;
}

std::vector<uint8_t> connect_data(uint16_t cntlid) {
    proto::ConnectData d{};
    d.hostid[0] = 0xa1;
    d.cntlid = cntlid;
    std::strncpy(d.subnqn, kQpSubsystemNqn, sizeof d.subnqn - 1);
    std::strncpy(d.hostnqn, kQpHostNqn, sizeof d.hostnqn - 1);
    std::vector<uint8_t> bytes(sizeof d);
    std::memcpy(bytes.data(), &d, sizeof d);
    return bytes;
}

proto::Sqe enable_sqe(const proto::SglDescriptor& sgl) {
    proto::PropertyCommand p{};
    p.opcode = uint8_t(proto::AdminOpcode::Fabrics);
    p.fctype = uint8_t(proto::FabricsType::PropertySet);
    p.offset = proto::property::kCc;
    p.value = proto::cc::kEnable | (6u << 16) | (4u << 20);  // IOSQES 64 bytes, IOCQES 16 bytes
    proto::Sqe sqe;
    std::memcpy(&sqe, &p, sizeof sqe);
    sqe.sgl = sgl;
    return sqe;
}

proto::Sqe identify_controller_sqe(const proto::SglDescriptor& sgl) {
    proto::Sqe sqe{};
    sqe.opcode = uint8_t(proto::AdminOpcode::Identify);
    sqe.cdw10 = uint32_t(proto::IdentifyCns::Controller);
    sqe.sgl = sgl;
    return sqe;
}

proto::Sqe error_log_sqe(const proto::SglDescriptor& sgl) {
    proto::Sqe sqe{};
    sqe.opcode = uint8_t(proto::AdminOpcode::GetLogPage);
    constexpr uint32_t kDwords = sizeof(proto::ErrorLogEntry) / 4;
    sqe.cdw10 = uint32_t(proto::LogPageId::ErrorInformation) | ((kDwords - 1) << 16);
    sqe.sgl = sgl;
    return sqe;
}

namespace {
proto::Sqe rw_sqe(proto::IoOpcode op, uint64_t slba, uint32_t blocks, const proto::SglDescriptor& sgl) {
    proto::Sqe sqe{};
    sqe.opcode = uint8_t(op);
    sqe.nsid = 1;
    sqe.cdw10 = static_cast<uint32_t>(slba);
    sqe.cdw11 = static_cast<uint32_t>(slba >> 32);
    sqe.cdw12 = blocks - 1;
    sqe.sgl = sgl;
    return sqe;
}
}  // namespace

proto::Sqe read_sqe(uint64_t slba, uint32_t blocks, const proto::SglDescriptor& sgl) {
    return rw_sqe(proto::IoOpcode::Read, slba, blocks, sgl);
}

proto::Sqe write_sqe(uint64_t slba, uint32_t blocks, const proto::SglDescriptor& sgl) {
    return rw_sqe(proto::IoOpcode::Write, slba, blocks, sgl);
}

std::optional<uint16_t> connect_admin(FakeQueue& admin) {
    auto data = connect_data(proto::kDynamicControllerId);
    auto connected = admin.submit(connect_sqe(0, 31, admin.data_sgl(uint32_t(data.size()))), data);
    if (!connected || !connected->status().ok()) return std::nullopt;
    auto enabled = admin.submit(enable_sqe(admin.data_sgl(0)));
    if (!enabled || !enabled->status().ok()) return std::nullopt;
    return static_cast<uint16_t>(connected->cqe.dw0);
}

std::optional<Outcome> connect_io(FakeQueue& io, uint16_t qid, uint16_t cntlid) {
    auto data = connect_data(cntlid);
    return io.submit(connect_sqe(qid, 31, io.data_sgl(uint32_t(data.size()))), data);
}

}  // namespace nvmfd::test
