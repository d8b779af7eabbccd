// Get Log Page: error information, SMART / health, firmware slot, changed
// namespace list, commands supported and effects, ANA, discovery. Each page
// is built whole and then sliced by the command's offset and length.
#include <algorithm>
#include <cstring>
#include <vector>

#include "core/proto/log_pages.hpp"
#include "core/runtime/log.hpp"
#include "core/target/ana.hpp"
#include "core/target/exec.hpp"
#include "core/target/queue_pair.hpp"
#include "core/target/target.hpp"

namespace nvmfd::target {

using plugin::Request;
using proto::LogPageId;
using proto::Status;
namespace status = proto::status;

namespace {

constexpr size_t kCdw10 = offsetof(proto::Sqe, cdw10);
constexpr size_t kCdw12 = offsetof(proto::Sqe, cdw12);

LogPageId log_id(const Request& r) { return static_cast<LogPageId>(r.sqe.cdw10 & 0xff); }
uint8_t log_specific(const Request& r) { return static_cast<uint8_t>((r.sqe.cdw10 >> 8) & 0x7f); }
bool retain_event(const Request& r) { return (r.sqe.cdw10 >> 15) & 1; }
uint64_t log_offset(const Request& r) { return uint64_t(r.sqe.cdw12) | (uint64_t(r.sqe.cdw13) << 32); }
uint32_t log_length(const Request& r) {
    uint64_t numd = (r.sqe.cdw10 >> 16) | (uint64_t(r.sqe.cdw11 & 0xffff) << 16);
    uint64_t bytes = (numd + 1) * 4;
    return bytes > UINT32_MAX ? UINT32_MAX : static_cast<uint32_t>(bytes);  // too long: prepare() rejects it
}

template <typename T>
void append(std::vector<uint8_t>& out, const T& v) {
    auto p = reinterpret_cast<const uint8_t*>(&v);
    out.insert(out.end(), p, p + sizeof v);
}

void build_error_log(QueuePair& qp, std::vector<uint8_t>& out) {
    for (const auto& e : qp.controller()->error_log()) append(out, e);
    out.resize(Controller::kErrorLogEntries * sizeof(proto::ErrorLogEntry), 0);
}

void set128(uint8_t (&field)[16], uint64_t v) {
    std::memcpy(field, &v, sizeof v);
    std::memset(field + sizeof v, 0, sizeof field - sizeof v);
}

// The health of the subsystem's devices that report one (drives), merged
// the way one controller over several media would report it: any device's
// warning, the hottest sensor, the spare nearest its threshold, the most
// worn device, all media errors.
struct MergedHealth {
    bool reported = false;
    plugin::DeviceHealth health;
    uint16_t hottest = 0;

    void add(const plugin::DeviceHealth& h) {
        health.critical_warning |= h.critical_warning;
        hottest = std::max(hottest, h.temperature_kelvin);
        const int margin = int(h.available_spare) - int(h.available_spare_threshold);
        if (!reported || margin < int(health.available_spare) - int(health.available_spare_threshold)) {
            health.available_spare = h.available_spare;
            health.available_spare_threshold = h.available_spare_threshold;
        }
        health.percentage_used = std::max(health.percentage_used, h.percentage_used);
        health.media_errors += h.media_errors;
        reported = true;
    }
};

void build_smart_log(QueuePair& qp, std::vector<uint8_t>& out) {
    proto::SmartHealthLog log{};
    log.composite_temperature = 296;  // 23 C: no device has a sensor; report a plausible ambient value
    log.available_spare = 100;
    log.available_spare_threshold = 10;
    NamespaceStats total;
    MergedHealth devices;
    if (const Subsystem* sub = qp.subsystem()) {
        for (const auto& e : sub->namespaces) {
            NamespaceStats s = e.ns->stats();
            total.read_commands += s.read_commands;
            total.write_commands += s.write_commands;
            total.read_bytes += s.read_bytes;
            total.write_bytes += s.write_bytes;
            total.errors += s.errors;
            if (auto h = e.ns->device().health()) devices.add(*h);
        }
    }
    if (devices.reported) {
        log.critical_warning = devices.health.critical_warning;
        if (devices.hottest) log.composite_temperature = devices.hottest;
        log.available_spare = devices.health.available_spare;
        log.available_spare_threshold = devices.health.available_spare_threshold;
        log.percentage_used = devices.health.percentage_used;
        total.errors += devices.health.media_errors;
    }
    // Data units are thousands of 512-byte units, rounded up.
    set128(log.data_units_read, (total.read_bytes / 512 + 999) / 1000);
    set128(log.data_units_written, (total.write_bytes / 512 + 999) / 1000);
    set128(log.host_read_commands, total.read_commands);
    set128(log.host_write_commands, total.write_commands);
    set128(log.media_errors, total.errors);
    set128(log.error_log_entries, qp.controller()->error_count());
    set128(log.power_cycles, 1);
    append(out, log);
}

void build_firmware_log(QueuePair& qp, std::vector<uint8_t>& out) {
    proto::FirmwareSlotLog log{};
    log.afi = 1;
    const std::string& fr = qp.target().options().firmware_revision;
    std::memset(log.frs[0], ' ', sizeof log.frs[0]);
    std::memcpy(log.frs[0], fr.data(), std::min(fr.size(), sizeof log.frs[0]));
    append(out, log);
}

void build_changed_ns_log(QueuePair& qp, Request& req, std::vector<uint8_t>& out) {
    auto list = qp.controller()->take_changed_namespaces(retain_event(req));
    out.resize(proto::kChangedNamespaceListEntries * 4, 0);
    if (!list.empty())
        std::memcpy(out.data(), list.data(), std::min(list.size(), proto::kChangedNamespaceListEntries) * 4);
}

void build_effects_log(std::vector<uint8_t>& out) {
    using proto::AdminOpcode;
    using proto::IoOpcode;
    namespace fx = proto::effects;
    proto::CommandEffectsLog log{};
    for (auto op : {AdminOpcode::GetLogPage, AdminOpcode::Identify, AdminOpcode::Abort, AdminOpcode::SetFeatures,
                    AdminOpcode::GetFeatures, AdminOpcode::AsyncEventRequest, AdminOpcode::KeepAlive})
        log.admin[uint8_t(op)] = fx::kSupported;
    log.io[uint8_t(IoOpcode::Flush)] = fx::kSupported;
    log.io[uint8_t(IoOpcode::Read)] = fx::kSupported;
    log.io[uint8_t(IoOpcode::Compare)] = fx::kSupported;
    for (auto op : {IoOpcode::Write, IoOpcode::WriteZeroes, IoOpcode::DatasetManagement})
        log.io[uint8_t(op)] = fx::kSupported | fx::kLogicalBlockContentChange;
    append(out, log);
}

void build_ana_log(QueuePair& qp, Request& req, std::vector<uint8_t>& out) {
    const TargetSnapshot& snap = qp.snapshot();
    const Subsystem* sub = qp.subsystem();
    const Port* port = qp.port();
    bool groups_only = log_specific(req) & proto::kAnaLogReturnGroupsOnly;
    const std::string& host = qp.controller()->identity().hostnqn;

    proto::AnaLogHeader hdr{};
    hdr.change_count = snap.ana_change_count;
    hdr.group_count = static_cast<uint16_t>(snap.ana_groups.size());
    append(out, hdr);
    for (const AnaGroup& g : snap.ana_groups) {
        std::vector<uint32_t> nsids;
        if (sub && !groups_only)
            for (const auto& e : sub->namespaces)
                if (e.ana_group == g.id && e.visible_for(host)) nsids.push_back(e.ns->nsid());
        proto::AnaGroupDescriptor d{};
        d.group_id = g.id;
        d.nsid_count = static_cast<uint32_t>(nsids.size());
        d.change_count = g.change_count;
        d.state = uint8_t(port ? port->ana_state(g.id) : proto::AnaState::Inaccessible);
        append(out, d);
        for (uint32_t id : nsids) append(out, id);
    }
    if (!retain_event(req)) qp.controller()->clear_event_mask(LogPageId::AsymmetricNamespaceAccess);
}

void execute_log_page(Request& r) {
    QueuePair& qp = QueuePair::of(r);
    std::vector<uint8_t> page;
    page.reserve(4096);
    switch (log_id(r)) {
    case LogPageId::ErrorInformation:
        build_error_log(qp, page);
        if (!retain_event(r)) qp.controller()->clear_event_mask(LogPageId::ErrorInformation);
        break;
    case LogPageId::SmartHealth:
        build_smart_log(qp, page);
        if (!retain_event(r)) qp.controller()->clear_event_mask(LogPageId::SmartHealth);
        break;
    case LogPageId::FirmwareSlot: build_firmware_log(qp, page); break;
    case LogPageId::ChangedNamespaceList: build_changed_ns_log(qp, r, page); break;
    case LogPageId::CommandsSupportedAndEffects: build_effects_log(page); break;
    case LogPageId::AsymmetricNamespaceAccess: build_ana_log(qp, r, page); break;
    case LogPageId::Discovery:
        build_discovery_log(qp, page);
        if (!retain_event(r)) qp.controller()->clear_event_mask(LogPageId::Discovery);
        break;
    default:
        qp.complete_error(r, status::kInvalidLogPage, kCdw10);
        return;
    }
    uint64_t offset = log_offset(r);
    // Hosts read variable-size pages (ANA) in chunks up to the largest size
    // the page could have; past the current content they get zeroes.
    uint64_t largest = std::max<uint64_t>(largest_log_page(qp, log_id(r)), page.size());
    if (offset > largest) {
        qp.complete_error(r, status::kInvalidField, kCdw12);
        return;
    }
    uint64_t content = offset < page.size() ? std::min<uint64_t>(page.size() - offset, r.transfer_length) : 0;
    if (content > r.core_aux) {
        // The page grew (a change published while this command waited for
        // pages) past the pool part taken for it: the host may retry.
        log::warn("log page {:#04x}: {} bytes do not fit the {} taken for them", uint8_t(log_id(r)), content,
                  r.core_aux);
        r.error_location = kCdw10;
        qp.complete(r, status::kInternalError);
        return;
    }
    // The part past the end of the page reads as zeroes (the zero page, or
    // pool pages cleared here).
    zero_request_data(r);
    if (content) copy_to_request(r, page.data() + offset, content);
    qp.complete(r, status::kSuccess);
}

}  // namespace

uint64_t largest_log_page(QueuePair& qp, LogPageId id) {
    switch (id) {
    case LogPageId::ErrorInformation: return Controller::kErrorLogEntries * sizeof(proto::ErrorLogEntry);
    case LogPageId::SmartHealth: return sizeof(proto::SmartHealthLog);
    case LogPageId::FirmwareSlot: return sizeof(proto::FirmwareSlotLog);
    case LogPageId::ChangedNamespaceList: return proto::kChangedNamespaceListEntries * 4;
    case LogPageId::CommandsSupportedAndEffects: return sizeof(proto::CommandEffectsLog);
    case LogPageId::AsymmetricNamespaceAccess: {
        const Subsystem* sub = qp.subsystem();
        return sizeof(proto::AnaLogHeader) + uint64_t(kMaxAnaGroups) * sizeof(proto::AnaGroupDescriptor) +
               uint64_t(sub ? sub->max_namespaces : 1024) * 4;
    }
    case LogPageId::Discovery:
        // One entry per subsystem and the discovery subsystem itself.
        return sizeof(proto::DiscoveryLogHeader) +
               (qp.snapshot().subsystems.size() + 1) * sizeof(proto::DiscoveryLogEntry);
    default: return 0;
    }
}

// Only the part of the transfer that can hold page content takes pool
// pages; what a host reads past that is the shared zero page, so a host
// asking for 1 MiB of a 3 KiB discovery log costs 3 KiB of the pool.
void execute_get_log_page(Request& req) {
    QueuePair& qp = QueuePair::of(req);
    uint64_t offset = log_offset(req);
    uint64_t largest = largest_log_page(qp, log_id(req));
    uint64_t content = offset < largest ? std::min<uint64_t>(largest - offset, req.transfer_length) : 0;
    req.core_aux = static_cast<uint32_t>(content);
    qp.with_data_buffer(req, execute_log_page, req.core_aux);
}

Status parse_get_log_page(QueuePair& qp, Request& req) {
    LogPageId lid = log_id(req);
    bool discovery = qp.controller()->is_discovery();
    bool known = discovery ? (lid == LogPageId::Discovery || lid == LogPageId::ErrorInformation)
                           : (lid == LogPageId::ErrorInformation || lid == LogPageId::SmartHealth ||
                              lid == LogPageId::FirmwareSlot || lid == LogPageId::ChangedNamespaceList ||
                              lid == LogPageId::CommandsSupportedAndEffects ||
                              lid == LogPageId::AsymmetricNamespaceAccess);
    if (!known) return fail_at(req, status::kInvalidLogPage, kCdw10);
    if (log_offset(req) & 3) return fail_at(req, status::kInvalidField, kCdw12);
    set_handler(req, execute_get_log_page, proto::DataDirection::ControllerToHost, log_length(req));
    return status::kSuccess;
}

}  // namespace nvmfd::target
