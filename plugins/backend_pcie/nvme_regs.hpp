// The NVMe controller registers in BAR0 (NVMe base spec, "Controller
// Registers"; offsets as in QEMU's NvmeBar) and their fields, for the PCIe
// backend's bring-up and doorbells.
#pragma once

#include <cstdint>

#include "core/proto/fabrics.hpp"  // the registers fabrics calls properties: one definition

namespace nvmfd::plugins::pcie::regs {

inline constexpr uint32_t kCap = proto::property::kCap;   // 64-bit
inline constexpr uint32_t kVs = proto::property::kVs;
inline constexpr uint32_t kCc = proto::property::kCc;
inline constexpr uint32_t kCsts = proto::property::kCsts;
inline constexpr uint32_t kNssr = proto::property::kNssr;
// PCIe only: the admin queues and the doorbells.
inline constexpr uint32_t kAqa = 0x24;
inline constexpr uint32_t kAsq = 0x28;   // 64-bit
inline constexpr uint32_t kAcq = 0x30;   // 64-bit
inline constexpr uint32_t kDoorbells = 0x1000;

// A register that reads all ones: the device is gone (surprise removal).
inline constexpr uint32_t kAllOnes = 0xffffffff;

struct Cap {
    uint64_t raw = 0;
    uint32_t max_queue_entries() const { return uint32_t(raw & 0xffff) + 1; }  // MQES is 0's based
    bool contiguous_queues_required() const { return raw >> 16 & 1; }
    uint32_t timeout_ms() const { return uint32_t(raw >> 24 & 0xff) * 500; }   // TO, 500 ms units
    uint32_t doorbell_stride() const { return 4u << (raw >> 32 & 0xf); }       // DSTRD
    bool nvm_command_set() const { return raw >> 37 & 1; }                     // CSS bit 0
    uint32_t min_page_size() const { return 4096u << (raw >> 48 & 0xf); }       // MPSMIN
    uint32_t max_page_size() const { return 4096u << (raw >> 52 & 0xf); }       // MPSMAX
};

namespace cc {
inline constexpr uint32_t kEnable = proto::cc::kEnable;
inline constexpr uint32_t kShutdownNormal = 1u << 14;  // SHN = 01b
inline constexpr uint32_t kShutdownMask = 3u << 14;
// NVM command set (CSS 000b), round robin (AMS 000b), 64-byte SQ and 16-byte CQ entries.
inline constexpr uint32_t configure(uint32_t page_size) {
    uint32_t mps = 0;
    while ((4096u << mps) < page_size) ++mps;
    return mps << 7 | 6u << 16 | 4u << 20;
}
}  // namespace cc

namespace csts = proto::csts;

// Admin queue sizes, 0's based: ASQS in bits 11:0, ACQS in 27:16.
inline constexpr uint32_t aqa(uint32_t sq_entries, uint32_t cq_entries) {
    return (sq_entries - 1) | (cq_entries - 1) << 16;
}

// Queue `qid`'s tail (SQ) and head (CQ) doorbells.
inline constexpr uint32_t sq_tail_doorbell(uint16_t qid, uint32_t stride) { return kDoorbells + 2u * qid * stride; }
inline constexpr uint32_t cq_head_doorbell(uint16_t qid, uint32_t stride) { return kDoorbells + (2u * qid + 1) * stride; }

}  // namespace nvmfd::plugins::pcie::regs
