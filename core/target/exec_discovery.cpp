// The discovery controller: the commands it accepts and the discovery log
// page, which lists every subsystem the connecting host may use through the
// port it came in on, plus the port's own discovery subsystem.
#include <cstring>

#include "core/proto/fabrics.hpp"
#include "core/target/exec.hpp"
#include "core/target/nqn.hpp"
#include "core/target/queue_pair.hpp"
#include "core/target/target.hpp"

namespace nvmfd::target {

using plugin::Request;
using proto::Status;
namespace status = proto::status;

namespace {

constexpr uint16_t kAdminQueueSize = 32;  // ASQSZ hosts should use

proto::DiscoveryLogEntry entry_for(const Port& port, const std::string& nqn, proto::DiscoverySubtype subtype) {
    proto::DiscoveryLogEntry e{};
    const plugin::DiscoveryAddress& a = port.discovery;
    e.trtype = uint8_t(a.trtype);
    e.adrfam = uint8_t(a.adrfam);
    e.subtype = uint8_t(subtype);
    e.treq = a.treq;
    e.portid = port.id();
    e.cntlid = proto::kDynamicControllerId;
    e.asqsz = kAdminQueueSize;
    string_to_field(a.trsvcid, e.trsvcid, sizeof e.trsvcid, ' ');
    string_to_field(nqn, e.subnqn, sizeof e.subnqn, '\0');
    string_to_field(a.traddr, e.traddr, sizeof e.traddr, ' ');
    std::memcpy(e.tsas, a.tsas, sizeof e.tsas);
    return e;
}

}  // namespace

void build_discovery_log(QueuePair& qp, std::vector<uint8_t>& out) {
    const TargetSnapshot& snap = qp.snapshot();
    const Port* port = qp.port();
    const std::string& host = qp.controller()->identity().hostnqn;
    std::vector<proto::DiscoveryLogEntry> entries;
    if (port) {
        for (const auto& sub : snap.subsystems)
            if (port->exposes(sub->nqn) && sub->host_allowed(host))
                entries.push_back(entry_for(*port, sub->nqn, proto::DiscoverySubtype::Nvme));
        entries.push_back(entry_for(*port, proto::kDiscoveryNqn, proto::DiscoverySubtype::CurrentDiscovery));
    }
    proto::DiscoveryLogHeader hdr{};
    hdr.generation = snap.discovery_generation;
    hdr.record_count = entries.size();
    out.resize(sizeof hdr + entries.size() * sizeof(proto::DiscoveryLogEntry));
    std::memcpy(out.data(), &hdr, sizeof hdr);
    if (!entries.empty())
        std::memcpy(out.data() + sizeof hdr, entries.data(), entries.size() * sizeof(proto::DiscoveryLogEntry));
}

Status parse_discovery_command(QueuePair& qp, Request& req) {
    if (!qp.controller()->ready()) return fail_at(req, status::kCommandSequenceError, 0);
    // Identify, Get Log Page, features, Keep Alive and AER; each handler
    // knows what a discovery controller allows of it.
    if (auto shared = parse_shared_admin_command(qp, req)) return *shared;
    return fail_at(req, status::kInvalidOpcode, 0);
}

}  // namespace nvmfd::target
