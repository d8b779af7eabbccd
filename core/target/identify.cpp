// Identify: controller, namespace, active namespace list, namespace
// identification descriptors, and the command-set specific variants newer
// hosts ask for.
#include <algorithm>
#include <bit>
#include <cstring>

#include "core/proto/fabrics.hpp"
#include "core/proto/identify.hpp"
#include "core/target/ana.hpp"
#include "core/target/exec.hpp"
#include "core/target/nqn.hpp"
#include "core/target/queue_pair.hpp"
#include "core/target/target.hpp"

namespace nvmfd::target {

using plugin::Request;
using proto::IdentifyCns;
using proto::Status;
namespace status = proto::status;
namespace idc = proto::idctrl;

namespace {

constexpr size_t kCdw10 = offsetof(proto::Sqe, cdw10);
constexpr size_t kNsidOffset = offsetof(proto::Sqe, nsid);
constexpr uint32_t kMaxNamespaces = 1024;

uint8_t log2_pages(uint32_t bytes) { return static_cast<uint8_t>(std::bit_width(bytes / 4096u) - 1); }

void fill_controller(QueuePair& qp, proto::IdentifyController& id) {
    Controller& ctrl = *qp.controller();
    const TargetOptions& opt = qp.target().options();
    bool discovery = ctrl.is_discovery();
    const Subsystem* sub = discovery ? nullptr : qp.subsystem();

    string_to_field(sub ? sub->serial : std::string("discovery"), id.sn, sizeof id.sn, ' ');
    string_to_field(sub ? sub->model : opt.default_model, id.mn, sizeof id.mn, ' ');
    string_to_field(opt.firmware_revision, id.fr, sizeof id.fr, ' ');
    id.rab = 6;
    id.mdts = log2_pages(qp.limits().max_data_transfer);
    id.cntlid = ctrl.cntlid();
    id.ver = proto::nvme_version(1, 3);
    id.ctratt = idc::kCtrattHostId128 | (1u << 6);  // TBKAS: any command counts as keep-alive traffic
    id.elpe = Controller::kErrorLogEntries - 1;
    id.lpa = idc::kLpaExtendedData | idc::kLpaCommandEffects;
    id.aerl = Controller::kAerLimit - 1;
    id.kas = 10;  // keep-alive granularity: 1 s in 100 ms units
    id.sqes = (6 << 4) | 6;
    id.cqes = (4 << 4) | 4;
    id.maxcmd = static_cast<uint16_t>(std::min<uint32_t>(opt.max_queue_size, 0xffff));
    id.sgls = idc::kSglsSupported;
    if (qp.limits().in_capsule_data_size) id.sgls |= idc::kSglsOffsetSupported;
    // Linux's nvme-rdma refuses a controller without it.
    if (qp.limits().keyed_sgl) id.sgls |= idc::kSglsKeyedSupported;
    id.ioccsz = (64 + qp.limits().in_capsule_data_size) / 16;
    id.iorcsz = 1;
    id.msdbd = 1;
    if (discovery) {
        id.cntrltype = uint8_t(proto::ControllerType::Discovery);
        id.oaes = idc::kOaesDiscoveryLogChange;
        string_to_field(proto::kDiscoveryNqn, id.subnqn, sizeof id.subnqn, '\0');
        return;
    }
    id.cntrltype = uint8_t(proto::ControllerType::Io);
    id.cmic = idc::kCmicMultiController | idc::kCmicAnaReporting;
    id.oaes = idc::kOaesNamespaceAttribute | idc::kOaesAnaChange;
    id.acl = 3;
    id.frmw = (1u << 1) | 1u;  // one firmware slot, read only
    id.wctemp = 0x157;
    id.cctemp = 0x175;
    id.anatt = 10;
    id.anacap = idc::kAnacapOptimized | idc::kAnacapNonOptimized | idc::kAnacapInaccessible |
                idc::kAnacapPersistentLoss | idc::kAnacapChange;
    id.anagrpmax = kMaxAnaGroups;
    id.nanagrpid = kMaxAnaGroups;
    id.nn = sub ? sub->max_namespaces : kMaxNamespaces;
    id.mnan = id.nn;
    id.oncs = idc::kOncsCompare | idc::kOncsDatasetManagement | idc::kOncsWriteZeroes;
    id.vwc = idc::kVwcPresent;
    id.psd[0].max_power = 0x9c4;  // 25 W, as a placeholder every host accepts
    id.psd[0].entry_latency = 0x10;
    id.psd[0].exit_latency = 0x4;
    if (sub) string_to_field(sub->nqn, id.subnqn, sizeof id.subnqn, '\0');
}

const NamespaceEntry* visible_namespace(QueuePair& qp, uint32_t nsid) {
    const Subsystem* sub = qp.subsystem();
    if (!sub) return nullptr;
    const NamespaceEntry* e = sub->find_namespace(nsid);
    if (!e || !e->visible_for(qp.controller()->identity().hostnqn)) return nullptr;
    return e;
}

void fill_namespace(QueuePair& qp, const NamespaceEntry& e, proto::IdentifyNamespace& id) {
    const Namespace& ns = *e.ns;
    const plugin::DeviceInfo& caps = ns.caps();
    uint64_t blocks = ns.num_blocks();
    id.nsze = id.ncap = id.nuse = blocks;
    id.nlbaf = 0;
    id.flbas = 0;
    id.lbaf[0].lbads = static_cast<uint8_t>(std::countr_zero(ns.block_size()));
    id.nmic = proto::idns::kNmicShared;
    id.anagrpid = e.ana_group;
    if (caps.deallocate) id.nsfeat |= proto::idns::kNsfeatThinProvisioning;
    if (caps.deallocate && caps.deallocated_reads_zero) id.dlfeat = proto::idns::kDlfeatReadsZeroes;
    if (caps.optimal_io_boundary) {
        id.noiob = static_cast<uint16_t>(std::min<uint64_t>(caps.optimal_io_boundary / ns.block_size(), 0xffff));
    }
    // Preferred write granularity/alignment: the backend's block or page.
    uint32_t pw = std::max<uint32_t>(caps.block_size, 4096) / ns.block_size();
    id.nsfeat |= proto::idns::kNsfeatOptimalIoFields;
    id.npwg = id.npwa = id.npdg = id.npda = static_cast<uint16_t>(pw - 1);
    std::memcpy(id.nguid, ns.nguid().data(), sizeof id.nguid);
    uint64_t bytes = blocks * ns.block_size();
    std::memcpy(id.nvmcap, &bytes, sizeof bytes);
    (void)qp;
}

void fill_descriptors(const Namespace& ns, uint8_t* out) {
    size_t off = 0;
    auto add = [&](proto::NidType t, const void* v, uint8_t len) {
        proto::NidHeader h{uint8_t(t), len, {0, 0}};
        std::memcpy(out + off, &h, sizeof h);
        std::memcpy(out + off + sizeof h, v, len);
        off += sizeof h + len;
    };
    add(proto::NidType::Nguid, ns.nguid().data(), 16);
    add(proto::NidType::Uuid, ns.uuid().data(), 16);
    uint8_t csi = 0;  // NVM command set
    add(proto::NidType::Csi, &csi, 1);
}

void fill_active_list(QueuePair& qp, uint32_t after, uint32_t* list) {
    const Subsystem* sub = qp.subsystem();
    if (!sub) return;
    size_t n = 0;
    for (const NamespaceEntry& e : sub->namespaces) {
        if (e.ns->nsid() <= after || !e.visible_for(qp.controller()->identity().hostnqn)) continue;
        list[n++] = e.ns->nsid();
        if (n == proto::kIdentifyDataSize / 4) break;
    }
}

}  // namespace

void execute_identify(Request& req) {
    QueuePair::of(req).with_data_buffer(req, [](Request& r) {
        QueuePair& qp = QueuePair::of(r);
        alignas(8) uint8_t page[proto::kIdentifyDataSize] = {};
        auto cns = static_cast<IdentifyCns>(r.sqe.cdw10 & 0xff);
        uint32_t nsid = r.sqe.nsid;
        switch (cns) {
        case IdentifyCns::Controller:
            fill_controller(qp, *reinterpret_cast<proto::IdentifyController*>(page));
            break;
        case IdentifyCns::Namespace:
            if (nsid == 0 || nsid == proto::kBroadcastNsid) {
                qp.complete_error(r, status::kInvalidNamespace, kNsidOffset);
                return;
            }
            // An inactive NSID gets a zero-filled structure, as the spec asks.
            if (const NamespaceEntry* e = visible_namespace(qp, nsid))
                fill_namespace(qp, *e, *reinterpret_cast<proto::IdentifyNamespace*>(page));
            break;
        case IdentifyCns::IoCommandSetIndependentNamespace:
            if (const NamespaceEntry* e = visible_namespace(qp, nsid)) {
                auto& id = *reinterpret_cast<proto::IdentifyNamespaceIndependent*>(page);
                id.nmic = proto::idns::kNmicShared;
                id.anagrpid = e->ana_group;
                id.nstat = 1;
            } else if (nsid == 0 || nsid == proto::kBroadcastNsid) {
                qp.complete_error(r, status::kInvalidNamespace, kNsidOffset);
                return;
            }
            break;
        case IdentifyCns::ActiveNamespaceList:
        case IdentifyCns::IoCommandSetActiveNamespaceList:
            if (nsid >= 0xfffffffeu) {
                qp.complete_error(r, status::kInvalidNamespace, kNsidOffset);
                return;
            }
            fill_active_list(qp, nsid, reinterpret_cast<uint32_t*>(page));
            break;
        case IdentifyCns::NamespaceDescriptorList: {
            const NamespaceEntry* e = visible_namespace(qp, nsid);
            if (!e) {
                qp.complete_error(r, status::kInvalidNamespace, kNsidOffset);
                return;
            }
            fill_descriptors(*e->ns, page);
            break;
        }
        case IdentifyCns::IoCommandSetNamespace:
            // NVM command set specific namespace data: nothing beyond zeroes to report.
            if (!visible_namespace(qp, nsid)) {
                qp.complete_error(r, status::kInvalidNamespace, kNsidOffset);
                return;
            }
            break;
        case IdentifyCns::IoCommandSetController:
            break;  // all-zero NVM command set controller data: no extra limits
        default:
            qp.complete_error(r, status::kInvalidField, kCdw10);
            return;
        }
        copy_to_request(r, page, sizeof page);
        qp.complete(r, status::kSuccess);
    });
}

Status parse_identify(QueuePair& qp, Request& req) {
    auto cns = static_cast<IdentifyCns>(req.sqe.cdw10 & 0xff);
    bool discovery = qp.controller()->is_discovery();
    uint8_t csi = static_cast<uint8_t>(req.sqe.cdw11 >> 24);
    switch (cns) {
    case IdentifyCns::Controller:
        break;
    case IdentifyCns::Namespace:
    case IdentifyCns::ActiveNamespaceList:
    case IdentifyCns::NamespaceDescriptorList:
    case IdentifyCns::IoCommandSetIndependentNamespace:
        if (discovery) return fail_at(req, status::kInvalidField, kCdw10);
        break;
    case IdentifyCns::IoCommandSetNamespace:
    case IdentifyCns::IoCommandSetController:
    case IdentifyCns::IoCommandSetActiveNamespaceList:
        if (discovery || csi != 0) return fail_at(req, status::kInvalidField, offsetof(proto::Sqe, cdw11));
        break;
    default:
        return fail_at(req, status::kInvalidField, kCdw10);
    }
    set_handler(req, execute_identify, proto::DataDirection::ControllerToHost, proto::kIdentifyDataSize);
    return status::kSuccess;
}

}  // namespace nvmfd::target
