#include "tools/host/commands.hpp"

#include <algorithm>
#include <cstring>
#include <fmt/format.h>
#include <stdexcept>

namespace nvmfd::host::cmd {

namespace {

template <typename Overlay>
Sqe from_overlay(const Overlay& overlay) {
    static_assert(sizeof(Overlay) == sizeof(Sqe));
    Sqe sqe;
    std::memcpy(&sqe, &overlay, sizeof sqe);
    return sqe;
}

Sqe with_opcode(uint8_t opcode, uint32_t nsid = 0) {
    Sqe sqe{};
    sqe.opcode = opcode;
    sqe.nsid = nsid;
    return sqe;
}

Sqe fabrics(proto::FabricsType type) {
    Sqe sqe{};
    sqe.opcode = static_cast<uint8_t>(proto::AdminOpcode::Fabrics);
    sqe.nsid = static_cast<uint8_t>(type);  // FCTYPE overlays byte 4
    return sqe;
}

uint32_t zero_based_blocks(uint32_t nblocks) {
    if (nblocks == 0 || nblocks > 65536)
        throw std::invalid_argument(fmt::format("block count {} outside 1..65536", nblocks));
    return nblocks - 1;
}

Sqe lba_command(proto::IoOpcode opcode, uint32_t nsid, uint64_t slba, uint32_t nblocks) {
    Sqe sqe = with_opcode(static_cast<uint8_t>(opcode), nsid);
    sqe.cdw10 = static_cast<uint32_t>(slba);
    sqe.cdw11 = static_cast<uint32_t>(slba >> 32);
    sqe.cdw12 = zero_based_blocks(nblocks);
    return sqe;
}

constexpr uint32_t kFua = 1u << 30;
constexpr uint32_t kDeallocate = 1u << 25;  // Write Zeroes DEAC

}  // namespace

Sqe connect(const ConnectParams& params) {
    proto::ConnectCommand c{};
    c.opcode = static_cast<uint8_t>(proto::AdminOpcode::Fabrics);
    c.fctype = static_cast<uint8_t>(proto::FabricsType::Connect);
    c.recfmt = 0;
    c.qid = params.qid;
    c.sqsize = params.sqsize;
    c.cattr = params.disable_sq_flow_control ? proto::kConnectAttrDisableSqFlowControl : 0;
    c.kato = params.kato_ms;
    return from_overlay(c);
}

proto::ConnectData connect_data(const std::array<uint8_t, 16>& hostid, uint16_t cntlid, std::string_view subnqn,
                                std::string_view hostnqn) {
    proto::ConnectData d{};
    std::memcpy(d.hostid, hostid.data(), hostid.size());
    d.cntlid = cntlid;
    // NQNs are NUL-terminated within their 256-byte fields.
    if (subnqn.size() >= sizeof d.subnqn || hostnqn.size() >= sizeof d.hostnqn)
        throw std::invalid_argument("NQN longer than 255 bytes");
    std::copy(subnqn.begin(), subnqn.end(), d.subnqn);
    std::copy(hostnqn.begin(), hostnqn.end(), d.hostnqn);
    return d;
}

PropertySize property_size(uint32_t offset) {
    return offset == proto::property::kCap ? PropertySize::Eight : PropertySize::Four;
}

Sqe property_get(uint32_t offset, PropertySize size) {
    proto::PropertyCommand p{};
    p.opcode = static_cast<uint8_t>(proto::AdminOpcode::Fabrics);
    p.fctype = static_cast<uint8_t>(proto::FabricsType::PropertyGet);
    p.attrib = static_cast<uint8_t>(size);
    p.offset = offset;
    return from_overlay(p);
}

Sqe property_set(uint32_t offset, uint64_t value, PropertySize size) {
    proto::PropertyCommand p{};
    p.opcode = static_cast<uint8_t>(proto::AdminOpcode::Fabrics);
    p.fctype = static_cast<uint8_t>(proto::FabricsType::PropertySet);
    p.attrib = static_cast<uint8_t>(size);
    p.offset = offset;
    p.value = value;
    return from_overlay(p);
}

Sqe disconnect() { return fabrics(proto::FabricsType::Disconnect); }

Sqe identify(proto::IdentifyCns cns, uint32_t nsid, uint16_t cntid, uint8_t csi) {
    Sqe sqe = with_opcode(static_cast<uint8_t>(proto::AdminOpcode::Identify), nsid);
    sqe.cdw10 = static_cast<uint32_t>(cns) | (uint32_t(cntid) << 16);
    sqe.cdw11 = uint32_t(csi) << 24;
    return sqe;
}

Sqe get_log_page(uint8_t lid, uint32_t length, uint64_t offset, uint32_t nsid, uint8_t lsp, bool retain_async_event) {
    if (length == 0 || length % 4 != 0 || offset % 4 != 0)
        throw std::invalid_argument(
            fmt::format("log page length {} and offset {} must be non-zero multiples of 4", length, offset));
    uint32_t numd = length / 4 - 1;  // 0's based dwords, split in NUMDL and NUMDU
    Sqe sqe = with_opcode(static_cast<uint8_t>(proto::AdminOpcode::GetLogPage), nsid);
    sqe.cdw10 = uint32_t(lid) | (uint32_t(lsp & 0x7f) << 8) | (retain_async_event ? 1u << 15 : 0) |
                ((numd & 0xffff) << 16);
    sqe.cdw11 = numd >> 16;
    sqe.cdw12 = static_cast<uint32_t>(offset);
    sqe.cdw13 = static_cast<uint32_t>(offset >> 32);
    return sqe;
}

Sqe get_features(uint8_t fid, proto::FeatureSelect select, uint32_t cdw11, uint32_t nsid) {
    Sqe sqe = with_opcode(static_cast<uint8_t>(proto::AdminOpcode::GetFeatures), nsid);
    sqe.cdw10 = uint32_t(fid) | (uint32_t(select) << 8);
    sqe.cdw11 = cdw11;
    return sqe;
}

Sqe set_features(uint8_t fid, uint32_t cdw11, bool save, uint32_t nsid) {
    Sqe sqe = with_opcode(static_cast<uint8_t>(proto::AdminOpcode::SetFeatures), nsid);
    sqe.cdw10 = uint32_t(fid) | (save ? 1u << 31 : 0);
    sqe.cdw11 = cdw11;
    return sqe;
}

Sqe keep_alive() { return with_opcode(static_cast<uint8_t>(proto::AdminOpcode::KeepAlive)); }
Sqe async_event_request() { return with_opcode(static_cast<uint8_t>(proto::AdminOpcode::AsyncEventRequest)); }

Sqe read(uint32_t nsid, uint64_t slba, uint32_t nblocks, bool fua) {
    Sqe sqe = lba_command(proto::IoOpcode::Read, nsid, slba, nblocks);
    if (fua) sqe.cdw12 |= kFua;
    return sqe;
}

Sqe write(uint32_t nsid, uint64_t slba, uint32_t nblocks, bool fua) {
    Sqe sqe = lba_command(proto::IoOpcode::Write, nsid, slba, nblocks);
    if (fua) sqe.cdw12 |= kFua;
    return sqe;
}

Sqe compare(uint32_t nsid, uint64_t slba, uint32_t nblocks) {
    return lba_command(proto::IoOpcode::Compare, nsid, slba, nblocks);
}

Sqe write_zeroes(uint32_t nsid, uint64_t slba, uint32_t nblocks, bool deallocate) {
    Sqe sqe = lba_command(proto::IoOpcode::WriteZeroes, nsid, slba, nblocks);
    if (deallocate) sqe.cdw12 |= kDeallocate;
    return sqe;
}

Sqe flush(uint32_t nsid) { return with_opcode(static_cast<uint8_t>(proto::IoOpcode::Flush), nsid); }

Sqe dataset_management(uint32_t nsid, uint32_t nranges, bool deallocate) {
    if (nranges == 0 || nranges > 256)
        throw std::invalid_argument(fmt::format("range count {} outside 1..256", nranges));
    Sqe sqe = with_opcode(static_cast<uint8_t>(proto::IoOpcode::DatasetManagement), nsid);
    sqe.cdw10 = nranges - 1;
    sqe.cdw11 = deallocate ? proto::kDsmAttrDeallocate : 0;
    return sqe;
}

const char* opcode_name(uint8_t opcode, bool admin) {
    if (opcode == 0x7f) return "Fabrics";
    if (admin) {
        switch (static_cast<proto::AdminOpcode>(opcode)) {
        case proto::AdminOpcode::GetLogPage: return "Get Log Page";
        case proto::AdminOpcode::Identify: return "Identify";
        case proto::AdminOpcode::Abort: return "Abort";
        case proto::AdminOpcode::SetFeatures: return "Set Features";
        case proto::AdminOpcode::GetFeatures: return "Get Features";
        case proto::AdminOpcode::AsyncEventRequest: return "Asynchronous Event Request";
        case proto::AdminOpcode::KeepAlive: return "Keep Alive";
        default: return "admin command";
        }
    }
    switch (static_cast<proto::IoOpcode>(opcode)) {
    case proto::IoOpcode::Flush: return "Flush";
    case proto::IoOpcode::Write: return "Write";
    case proto::IoOpcode::Read: return "Read";
    case proto::IoOpcode::Compare: return "Compare";
    case proto::IoOpcode::WriteZeroes: return "Write Zeroes";
    case proto::IoOpcode::DatasetManagement: return "Dataset Management";
    default: return "I/O command";
    }
}

}  // namespace nvmfd::host::cmd
