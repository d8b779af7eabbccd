// Get Features / Set Features.
#include <algorithm>
#include <cstring>

#include "core/proto/smart.hpp"
#include "core/runtime/log.hpp"
#include "core/target/exec.hpp"
#include "core/target/queue_pair.hpp"
#include "core/target/target.hpp"

namespace nvmfd::target {

using plugin::Request;
using proto::FeatureId;
using proto::Status;
namespace status = proto::status;

namespace {

constexpr size_t kCdw10 = offsetof(proto::Sqe, cdw10);
constexpr size_t kCdw11 = offsetof(proto::Sqe, cdw11);
// SMART critical warnings (7:0, raised by devices that report health),
// namespace attribute, ANA change.
constexpr uint32_t kSupportedAsyncEvents = proto::critical_warning::kAll | (1u << 8) | (1u << 11);
constexpr uint32_t kDiscoveryAsyncEvents = 1u << 31;

FeatureId feature(const Request& r) { return static_cast<FeatureId>(r.sqe.cdw10 & 0xff); }
bool is_set(const Request& r) { return r.sqe.opcode == uint8_t(proto::AdminOpcode::SetFeatures); }

bool supported(FeatureId f, bool discovery) {
    switch (f) {
    case FeatureId::KeepAliveTimer:
    case FeatureId::AsyncEventConfig: return true;
    case FeatureId::Arbitration:
    case FeatureId::PowerManagement:
    case FeatureId::TemperatureThreshold:
    case FeatureId::ErrorRecovery:
    case FeatureId::VolatileWriteCache:
    case FeatureId::NumberOfQueues:
    case FeatureId::WriteAtomicity:
    case FeatureId::HostIdentifier: return !discovery;
    default: return false;
    }
}

void execute_get(Request& r) {
    QueuePair& qp = QueuePair::of(r);
    Controller& ctrl = *qp.controller();
    auto select = static_cast<proto::FeatureSelect>((r.sqe.cdw10 >> 8) & 0x7);
    FeatureId f = feature(r);
    if (select == proto::FeatureSelect::Capabilities) {
        // Changeable for the ones Set Features accepts; nothing is saveable.
        bool changeable = f != FeatureId::HostIdentifier && f != FeatureId::WriteAtomicity;
        r.cqe.dw0 = changeable ? (1u << 2) : 0;
        qp.complete(r, status::kSuccess);
        return;
    }
    bool defaults = select == proto::FeatureSelect::Default;
    uint32_t v = 0;
    switch (f) {
    case FeatureId::NumberOfQueues: {
        uint32_t n = uint32_t(defaults ? qp.target().options().max_io_queues : ctrl.granted_io_queues()) - 1;
        v = n | (n << 16);
        break;
    }
    case FeatureId::AsyncEventConfig: v = defaults ? 0 : ctrl.async_event_config(); break;
    case FeatureId::KeepAliveTimer: v = defaults ? 0 : ctrl.kato_ms(); break;
    case FeatureId::VolatileWriteCache: v = defaults || ctrl.volatile_write_cache() ? 1 : 0; break;
    case FeatureId::HostIdentifier:
        copy_to_request(r, ctrl.identity().hostid.data(), ctrl.identity().hostid.size());
        break;
    case FeatureId::TemperatureThreshold: v = defaults ? 0x157 : ctrl.feature_value(uint8_t(f)); break;
    default: v = defaults ? 0 : ctrl.feature_value(uint8_t(f)); break;
    }
    r.cqe.dw0 = v;
    qp.complete(r, status::kSuccess);
}

void execute_set(Request& r) {
    QueuePair& qp = QueuePair::of(r);
    Controller& ctrl = *qp.controller();
    uint32_t v = r.sqe.cdw11;
    if (r.sqe.cdw10 & (1u << 31)) {
        qp.complete_error(r, status::kFeatureNotSaveable, kCdw10);
        return;
    }
    switch (feature(r)) {
    case FeatureId::NumberOfQueues: {
        uint32_t nsqr = v & 0xffff, ncqr = v >> 16;
        if (nsqr == 0xffff || ncqr == 0xffff) {
            qp.complete_error(r, status::kInvalidField, kCdw11);
            return;
        }
        uint32_t wanted = std::min<uint32_t>(std::max(nsqr, ncqr) + 1, qp.target().options().max_io_queues);
        // The host's budget over all its controllers may grant fewer (it
        // uses what it gets; a refused I/O queue Connect would fail them all).
        IoQueueGrant grant = qp.target().controllers().grant_io_queues(ctrl, wanted);
        uint32_t granted = grant.granted;
        if (grant.limited)
            log::notice("host '{}' ({}) controller {} of '{}': {} I/O queue(s) granted of the {} asked "
                        "(max-io-queues-per-host)",
                        ctrl.identity().hostnqn, qp.peer_address(), ctrl.cntlid(), ctrl.identity().subnqn, granted,
                        wanted);
        ctrl.set_granted_io_queues(static_cast<uint16_t>(granted));
        r.cqe.dw0 = (granted - 1) | ((granted - 1) << 16);
        break;
    }
    case FeatureId::AsyncEventConfig:
        ctrl.set_async_event_config(v & (ctrl.is_discovery() ? kDiscoveryAsyncEvents : kSupportedAsyncEvents));
        break;
    case FeatureId::KeepAliveTimer:
        ctrl.set_kato_ms(std::min(v, qp.target().options().max_kato_ms));
        break;
    case FeatureId::VolatileWriteCache:
        // Writes are not made write-through on request; say so instead of pretending.
        if (!(v & 1)) {
            qp.complete_error(r, status::kFeatureNotChangeable, kCdw11);
            return;
        }
        ctrl.set_volatile_write_cache(true);
        break;
    case FeatureId::HostIdentifier:
        // On fabrics the host identifier is fixed by Connect.
        qp.complete_error(r, status::kCommandSequenceError, kCdw10);
        return;
    case FeatureId::PowerManagement:
        if ((v & 0x1f) != 0) {  // only power state 0 exists
            qp.complete_error(r, status::kInvalidField, kCdw11);
            return;
        }
        ctrl.set_feature_value(uint8_t(feature(r)), v);
        break;
    case FeatureId::WriteAtomicity:
        qp.complete_error(r, status::kFeatureNotChangeable, kCdw10);
        return;
    default:
        ctrl.set_feature_value(uint8_t(feature(r)), v);
        break;
    }
    qp.complete(r, status::kSuccess);
}

}  // namespace

void execute_get_features(Request& req) { QueuePair::of(req).with_data_buffer(req, execute_get); }
void execute_set_features(Request& req) { execute_set(req); }

Status parse_features(QueuePair& qp, Request& req) {
    FeatureId f = feature(req);
    if (!supported(f, qp.controller()->is_discovery())) return fail_at(req, status::kInvalidField, kCdw10);
    uint32_t length = 0;
    if (f == FeatureId::HostIdentifier) {
        // Only the 128-bit host identifier (EXHID) exists on fabrics.
        if (!(req.sqe.cdw11 & 1)) return fail_at(req, status::kInvalidField, kCdw11);
        length = 16;
    }
    if (is_set(req)) {
        set_handler(req, execute_set_features, proto::DataDirection::HostToController, length);
    } else {
        auto select = static_cast<proto::FeatureSelect>((req.sqe.cdw10 >> 8) & 0x7);
        if (select == proto::FeatureSelect::Capabilities) length = 0;
        set_handler(req, execute_get_features, proto::DataDirection::ControllerToHost, length);
    }
    return status::kSuccess;
}

}  // namespace nvmfd::target
