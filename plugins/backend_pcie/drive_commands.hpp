// The commands the PCIe backend sends a drive, built as SQEs (NVMe base
// spec, admin and NVM command sets; field positions in the comments of
// drive_commands.cpp), and what it reads back from Identify and from the
// Number of Queues feature. The data pointer (the SQE's DPTR, typed as an
// SGL descriptor in core/proto for the fabrics side) is PRP1/PRP2, or an
// SGL descriptor for I/O on drives that take them.
#pragma once

#include <cstdint>
#include <string>

#include "core/proto/identify.hpp"
#include "core/proto/log_pages.hpp"
#include "core/proto/nvme.hpp"
#include "core/runtime/error.hpp"

namespace nvmfd::plugins::pcie {

void set_prp(proto::Sqe& sqe, uint64_t prp1, uint64_t prp2);
// The data as an SGL (sgl.hpp): `dptr` in the DPTR, PSDT 01.
void set_sgl(proto::Sqe& sqe, const proto::SglDescriptor& dptr);
uint64_t prp1_of(const proto::Sqe& sqe);
uint64_t prp2_of(const proto::Sqe& sqe);

// Admin commands. `data` is the IOVA of a 4 KiB buffer (Identify).
proto::Sqe identify_controller(uint64_t data);
proto::Sqe identify_namespace(uint32_t nsid, uint64_t data);
proto::Sqe set_number_of_queues(uint16_t pairs);
proto::Sqe create_io_cq(uint16_t qid, uint16_t entries, uint64_t memory, bool interrupts, uint16_t vector);
proto::Sqe create_io_sq(uint16_t qid, uint16_t entries, uint64_t memory, uint16_t cqid);
proto::Sqe delete_io_sq(uint16_t qid);
proto::Sqe delete_io_cq(uint16_t qid);
proto::Sqe abort_command(uint16_t sqid, uint16_t cid);
proto::Sqe async_event_request();
proto::Sqe set_async_event_config(uint32_t events);
// `bytes` (a multiple of 4, at most 4096) of log page `lid` into the 4 KiB buffer at `data`.
proto::Sqe get_log_page(proto::LogPageId lid, uint32_t nsid, uint32_t bytes, uint64_t data);

// NVM commands (PRPs set by the caller). `blocks` >= 1.
proto::Sqe read_write(proto::IoOpcode op, uint32_t nsid, uint64_t lba, uint32_t blocks, bool fua);
proto::Sqe write_zeroes(uint32_t nsid, uint64_t lba, uint32_t blocks, bool deallocate);
proto::Sqe flush(uint32_t nsid);
// Deallocate `ranges` DSM ranges (the range list is the data, PRP1).
proto::Sqe deallocate(uint32_t nsid, uint32_t ranges);

// What the backend needs of Identify Controller.
struct DriveController {
    std::string model, serial, firmware;  // trailing spaces trimmed
    uint8_t mdts = 0;                     // 2^mdts pages of CAP.MPSMIN; 0 = no limit
    uint32_t namespaces = 0;              // NN
    uint16_t oncs = 0;                    // optional NVM commands
    bool volatile_write_cache = false;    // VWC bit 0
    uint8_t abort_limit = 1;              // ACL + 1 concurrent aborts
    uint32_t sgls = 0;                    // SGL support (sgl.hpp)
    uint8_t event_limit = 1;              // AERL + 1 outstanding Asynchronous Event Requests
    bool supports(uint16_t oncs_bit) const { return oncs & oncs_bit; }
};
namespace oncs {
inline constexpr uint16_t kCompare = 1u << 0;
inline constexpr uint16_t kDatasetManagement = 1u << 2;
inline constexpr uint16_t kWriteZeroes = 1u << 3;
}  // namespace oncs
DriveController parse_identify_controller(const proto::IdentifyController& id);

// What the backend needs of Identify Namespace: the size and the block size
// of the format in use. Refused: an inactive namespace (NSZE 0), metadata
// with the blocks (nvmfd serves data only), an absurd block size.
struct DriveNamespace {
    uint64_t blocks = 0;
    uint32_t block_size = 0;
};
Result<DriveNamespace> parse_identify_namespace(const proto::IdentifyNamespace& id, uint32_t nsid);

// Queue pairs the drive granted (Set Features Number of Queues' DW0: NSQA
// in 15:0 and NCQA in 31:16, both 0's based).
uint16_t granted_queue_pairs(uint32_t dw0);

}  // namespace nvmfd::plugins::pcie
