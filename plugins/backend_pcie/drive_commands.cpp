#include "plugins/backend_pcie/drive_commands.hpp"

#include <cstring>
#include <fmt/format.h>

namespace nvmfd::plugins::pcie {
namespace {

proto::Sqe command(uint8_t opcode, uint32_t nsid = 0) {
    proto::Sqe s{};
    s.opcode = opcode;
    s.nsid = nsid;
    return s;
}
proto::Sqe admin(proto::AdminOpcode op, uint32_t nsid = 0) { return command(uint8_t(op), nsid); }
proto::Sqe io(proto::IoOpcode op, uint32_t nsid) { return command(uint8_t(op), nsid); }

std::string trimmed(const char* s, size_t n) {
    std::string out(s, strnlen(s, n));
    while (!out.empty() && (out.back() == ' ' || out.back() == '\0')) out.pop_back();
    return out;
}

}  // namespace

// DPTR: bytes 24-31 PRP1, 32-39 PRP2.
void set_prp(proto::Sqe& sqe, uint64_t prp1, uint64_t prp2) {
    static_assert(sizeof(sqe.sgl) == 16 && offsetof(proto::Sqe, sgl) == 24);
    std::memcpy(reinterpret_cast<char*>(&sqe.sgl), &prp1, 8);
    std::memcpy(reinterpret_cast<char*>(&sqe.sgl) + 8, &prp2, 8);
    sqe.flags &= 0x3f;  // PSDT 00b: PRPs
}
void set_sgl(proto::Sqe& sqe, const proto::SglDescriptor& dptr) {
    sqe.sgl = dptr;
    sqe.flags = uint8_t((sqe.flags & 0x3f) | 0x40);  // PSDT 01b: SGLs, no metadata pointer in use
}
uint64_t prp1_of(const proto::Sqe& sqe) {
    uint64_t v;
    std::memcpy(&v, reinterpret_cast<const char*>(&sqe.sgl), 8);
    return v;
}
uint64_t prp2_of(const proto::Sqe& sqe) {
    uint64_t v;
    std::memcpy(&v, reinterpret_cast<const char*>(&sqe.sgl) + 8, 8);
    return v;
}

// Identify: CDW10 CNS in 7:0 (01h controller, 00h namespace).
proto::Sqe identify_controller(uint64_t data) {
    auto s = admin(proto::AdminOpcode::Identify);
    s.cdw10 = 0x01;
    set_prp(s, data, 0);
    return s;
}
proto::Sqe identify_namespace(uint32_t nsid, uint64_t data) {
    auto s = admin(proto::AdminOpcode::Identify, nsid);
    s.cdw10 = 0x00;
    set_prp(s, data, 0);
    return s;
}
// Set Features: CDW10 FID; Number of Queues CDW11 NCQR 31:16, NSQR 15:0, 0's based.
proto::Sqe set_number_of_queues(uint16_t pairs) {
    auto s = admin(proto::AdminOpcode::SetFeatures);
    s.cdw10 = uint32_t(proto::FeatureId::NumberOfQueues);
    s.cdw11 = uint32_t(pairs - 1) << 16 | uint32_t(pairs - 1);
    return s;
}
// Create I/O CQ: CDW10 QSIZE 31:16 (0's based), QID 15:0; CDW11 IV 31:16, IEN bit 1, PC bit 0.
proto::Sqe create_io_cq(uint16_t qid, uint16_t entries, uint64_t memory, bool interrupts, uint16_t vector) {
    auto s = admin(proto::AdminOpcode::CreateIoCq);
    s.cdw10 = uint32_t(entries - 1) << 16 | qid;
    s.cdw11 = uint32_t(interrupts ? vector : 0) << 16 | (interrupts ? 1u << 1 : 0) | 1u;
    set_prp(s, memory, 0);
    return s;
}
// Create I/O SQ: CDW10 as for the CQ; CDW11 CQID 31:16, QPRIO 2:1 (00b), PC bit 0.
proto::Sqe create_io_sq(uint16_t qid, uint16_t entries, uint64_t memory, uint16_t cqid) {
    auto s = admin(proto::AdminOpcode::CreateIoSq);
    s.cdw10 = uint32_t(entries - 1) << 16 | qid;
    s.cdw11 = uint32_t(cqid) << 16 | 1u;
    set_prp(s, memory, 0);
    return s;
}
proto::Sqe delete_io_sq(uint16_t qid) {
    auto s = admin(proto::AdminOpcode::DeleteIoSq);
    s.cdw10 = qid;
    return s;
}
proto::Sqe delete_io_cq(uint16_t qid) {
    auto s = admin(proto::AdminOpcode::DeleteIoCq);
    s.cdw10 = qid;
    return s;
}
// Abort: CDW10 CID 31:16, SQID 15:0.
proto::Sqe abort_command(uint16_t sqid, uint16_t cid) {
    auto s = admin(proto::AdminOpcode::Abort);
    s.cdw10 = uint32_t(cid) << 16 | sqid;
    return s;
}
// Asynchronous Event Request: no fields; it completes when the drive has an event.
proto::Sqe async_event_request() { return admin(proto::AdminOpcode::AsyncEventRequest); }
// Set Features Asynchronous Event Configuration: CDW11 the events to report.
proto::Sqe set_async_event_config(uint32_t events) {
    auto s = admin(proto::AdminOpcode::SetFeatures);
    s.cdw10 = uint32_t(proto::FeatureId::AsyncEventConfig);
    s.cdw11 = events;
    return s;
}
// Get Log Page: CDW10 LID 7:0, RAE bit 15 (0: reading ends the event), NUMDL 31:16; CDW11 NUMDU 15:0 (dwords, 0's based).
proto::Sqe get_log_page(proto::LogPageId lid, uint32_t nsid, uint32_t bytes, uint64_t data) {
    auto s = admin(proto::AdminOpcode::GetLogPage, nsid);
    const uint32_t numd = bytes / 4 - 1;
    s.cdw10 = uint32_t(lid) | (numd & 0xffff) << 16;
    s.cdw11 = numd >> 16;
    set_prp(s, data, 0);
    return s;
}

// Read/Write/Compare: CDW10-11 SLBA, CDW12 NLB 15:0 (0's based), FUA bit 30.
proto::Sqe read_write(proto::IoOpcode op, uint32_t nsid, uint64_t lba, uint32_t blocks, bool fua) {
    auto s = io(op, nsid);
    s.cdw10 = uint32_t(lba);
    s.cdw11 = uint32_t(lba >> 32);
    s.cdw12 = (blocks - 1) & 0xffff;
    if (fua) s.cdw12 |= 1u << 30;
    return s;
}
// Write Zeroes: as Write, DEAC (deallocate) bit 25.
proto::Sqe write_zeroes(uint32_t nsid, uint64_t lba, uint32_t blocks, bool deallocate) {
    auto s = read_write(proto::IoOpcode::WriteZeroes, nsid, lba, blocks, false);
    if (deallocate) s.cdw12 |= 1u << 25;
    return s;
}
proto::Sqe flush(uint32_t nsid) { return io(proto::IoOpcode::Flush, nsid); }
// Dataset Management: CDW10 NR 7:0 (0's based), CDW11 AD (deallocate) bit 2.
proto::Sqe deallocate(uint32_t nsid, uint32_t ranges) {
    auto s = io(proto::IoOpcode::DatasetManagement, nsid);
    s.cdw10 = (ranges - 1) & 0xff;
    s.cdw11 = 1u << 2;
    return s;
}

DriveController parse_identify_controller(const proto::IdentifyController& id) {
    DriveController c;
    c.model = trimmed(reinterpret_cast<const char*>(id.mn), sizeof id.mn);
    c.serial = trimmed(reinterpret_cast<const char*>(id.sn), sizeof id.sn);
    c.firmware = trimmed(reinterpret_cast<const char*>(id.fr), sizeof id.fr);
    c.mdts = id.mdts;
    c.namespaces = id.nn;
    c.oncs = id.oncs;
    c.volatile_write_cache = id.vwc & 1;
    c.abort_limit = uint8_t(id.acl + 1);
    c.sgls = id.sgls;
    c.event_limit = uint8_t(id.aerl + 1);
    return c;
}

Result<DriveNamespace> parse_identify_namespace(const proto::IdentifyNamespace& id, uint32_t nsid) {
    if (id.nsze == 0)
        return make_error(ErrorCode::NotFound, fmt::format("namespace {} is not active on the drive", nsid), "nsid");
    // FLBAS: the format index in bits 3:0, and 6:5 as its upper bits when there are more than 16.
    const unsigned index = (id.flbas & 0xf) | (id.nlbaf > 15 ? (id.flbas >> 5 & 3) << 4 : 0);
    const proto::LbaFormat& f = id.lbaf[index];
    if (f.ms != 0)
        return make_error(ErrorCode::NotSupported,
                          fmt::format("namespace {} is formatted with {} bytes of metadata per block; nvmfd serves "
                                      "data only (format it without metadata)",
                                      nsid, f.ms),
                          "nsid");
    if (f.lbads < 9 || f.lbads > 16)
        return make_error(ErrorCode::NotSupported,
                          fmt::format("namespace {} has blocks of 2^{} bytes; nvmfd takes 512 B to 64 KiB", nsid, f.lbads),
                          "nsid");
    return DriveNamespace{id.nsze, 1u << f.lbads};
}

uint16_t granted_queue_pairs(uint32_t dw0) {
    const uint32_t sq = (dw0 & 0xffff) + 1, cq = (dw0 >> 16) + 1;
    return uint16_t(std::min<uint32_t>(std::min(sq, cq), 0xffff));
}

}  // namespace nvmfd::plugins::pcie
