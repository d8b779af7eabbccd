#include "tools/host/parse.hpp"

#include <cstring>
#include <fmt/format.h>

#include "tools/host/errors.hpp"

namespace nvmfd::host {

std::vector<uint32_t> parse_namespace_list(std::span<const std::byte> data) {
    std::vector<uint32_t> nsids;
    uint32_t previous = 0;
    for (size_t at = 0; at + 4 <= data.size(); at += 4) {
        uint32_t nsid;
        std::memcpy(&nsid, data.data() + at, sizeof nsid);
        if (nsid == 0) break;
        if (nsid <= previous)
            throw ProtocolError(fmt::format("active namespace list not increasing: NSID {} after {}", nsid, previous));
        nsids.push_back(nsid);
        previous = nsid;
    }
    return nsids;
}

std::vector<NamespaceDescriptor> parse_namespace_descriptors(std::span<const std::byte> data) {
    std::vector<NamespaceDescriptor> result;
    size_t at = 0;
    while (at + sizeof(proto::NidHeader) <= data.size()) {
        proto::NidHeader h;
        std::memcpy(&h, data.data() + at, sizeof h);
        if (h.nidt == 0) break;
        size_t expected = 0;
        switch (static_cast<proto::NidType>(h.nidt)) {
        case proto::NidType::Eui64: expected = 8; break;
        case proto::NidType::Nguid: expected = 16; break;
        case proto::NidType::Uuid: expected = 16; break;
        case proto::NidType::Csi: expected = 1; break;
        }
        if (expected != 0 && h.nidl != expected)
            throw ProtocolError(fmt::format("namespace descriptor type {} with NIDL {}, must be {}", h.nidt, h.nidl,
                                            expected));
        if (h.nidl == 0) throw ProtocolError(fmt::format("namespace descriptor type {} with NIDL 0", h.nidt));
        at += sizeof h;
        if (at + h.nidl > data.size())
            throw ProtocolError(fmt::format("namespace descriptor type {} runs past the end of the data", h.nidt));
        NamespaceDescriptor d;
        d.type = static_cast<proto::NidType>(h.nidt);
        auto bytes = data.subspan(at, h.nidl);
        for (std::byte b : bytes) d.id.push_back(static_cast<uint8_t>(b));
        result.push_back(std::move(d));
        at += h.nidl;
    }
    return result;
}

NamespaceGeometry namespace_geometry(const proto::IdentifyNamespace& ns) {
    // FLBAS bits 0-3, and bits 5-6 as the upper index bits when there are more than 16 formats.
    unsigned index = (ns.flbas & 0x0f) | (ns.nlbaf >= 16 ? (ns.flbas & 0x60) >> 1 : 0);
    if (index > ns.nlbaf)
        throw ProtocolError(fmt::format("namespace FLBAS selects LBA format {} but NLBAF is {}", index, ns.nlbaf));
    const proto::LbaFormat& format = ns.lbaf[index];
    if (format.lbads < 9 || format.lbads > 31)
        throw ProtocolError(fmt::format("LBA format {} has LBADS {} (block size must be 512 B or more)", index,
                                        format.lbads));
    return {ns.nsze, 1u << format.lbads, format.ms};
}

std::string trimmed_field(const char* field, size_t size) {
    size_t length = strnlen(field, size);
    while (length > 0 && field[length - 1] == ' ') --length;
    return std::string(field, length);
}

std::vector<DiscoveryEntry> parse_discovery_entries(std::span<const std::byte> records, uint64_t count) {
    if (records.size() < count * sizeof(proto::DiscoveryLogEntry))
        throw ProtocolError(fmt::format("discovery log has {} bytes of records for {} records", records.size(), count));
    std::vector<DiscoveryEntry> entries;
    entries.reserve(count);
    for (uint64_t i = 0; i < count; ++i) {
        proto::DiscoveryLogEntry raw;
        std::memcpy(&raw, records.data() + i * sizeof raw, sizeof raw);
        DiscoveryEntry e;
        e.trtype = static_cast<proto::TransportType>(raw.trtype);
        e.adrfam = static_cast<proto::AddressFamily>(raw.adrfam);
        e.subtype = static_cast<proto::DiscoverySubtype>(raw.subtype);
        e.treq = raw.treq;
        e.sectype = raw.tsas[0];
        e.portid = raw.portid;
        e.cntlid = raw.cntlid;
        e.asqsz = raw.asqsz;
        e.eflags = raw.eflags;
        e.trsvcid = trimmed_field(raw.trsvcid, sizeof raw.trsvcid);
        e.subnqn = trimmed_field(raw.subnqn, sizeof raw.subnqn);
        e.traddr = trimmed_field(raw.traddr, sizeof raw.traddr);
        entries.push_back(std::move(e));
    }
    return entries;
}

}  // namespace nvmfd::host
