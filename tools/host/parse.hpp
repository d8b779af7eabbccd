// Decoding the variable-length data a controller returns: namespace lists,
// namespace identification descriptors, discovery log entries, and the
// geometry of a namespace. Malformed data throws ProtocolError.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "core/proto/identify.hpp"
#include "core/proto/log_pages.hpp"

namespace nvmfd::host {

// Identify CNS 02h: NSIDs in increasing order, ended by 0 or the 4 KiB end.
std::vector<uint32_t> parse_namespace_list(std::span<const std::byte> data);

struct NamespaceDescriptor {
    proto::NidType type{};
    std::vector<uint8_t> id;
};
// Identify CNS 03h: type-length records ended by a zero NIDT.
std::vector<NamespaceDescriptor> parse_namespace_descriptors(std::span<const std::byte> data);

struct NamespaceGeometry {
    uint64_t blocks = 0;      // NSZE
    uint32_t block_size = 0;  // bytes per logical block of the formatted LBA format
    uint16_t metadata_size = 0;
};
NamespaceGeometry namespace_geometry(const proto::IdentifyNamespace& ns);

struct DiscoveryEntry {
    proto::TransportType trtype{};
    proto::AddressFamily adrfam{};
    proto::DiscoverySubtype subtype{};
    uint8_t treq = 0;
    uint8_t sectype = 0;  // TSAS byte 0 for NVMe/TCP: 0 none, 2 TLS 1.3
    uint16_t portid = 0;
    uint16_t cntlid = 0;
    uint16_t asqsz = 0;
    uint16_t eflags = 0;
    std::string trsvcid;
    std::string subnqn;
    std::string traddr;
};
std::vector<DiscoveryEntry> parse_discovery_entries(std::span<const std::byte> records, uint64_t count);

// A fixed-size ASCII field without its NUL or space padding.
std::string trimmed_field(const char* field, size_t size);

}  // namespace nvmfd::host
