// One NVMe drive driven through VFIO (docs/pcie-design.md 9.1): the device,
// its controller brought up over BAR0, the admin queue (control plane only,
// behind a mutex, polled), what Identify said, and the I/O queue IDs the
// drive granted. Shared by every nvmfd namespace on the drive and by the
// reactors' queue pairs; the last of them shuts the controller down
// normally and closes the device, which gives the drive back.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/proto/nvme.hpp"
#include "core/runtime/error.hpp"
#include "plugins/backend_pcie/dma_memory.hpp"
#include "plugins/backend_pcie/drive_commands.hpp"
#include "plugins/backend_pcie/nvme_regs.hpp"
#include "plugins/backend_pcie/prp.hpp"
#include "plugins/backend_pcie/queue_core.hpp"
#include "plugins/backend_pcie/vfio_device.hpp"

namespace nvmfd::plugins::pcie {

// An I/O queue pair's memory on the drive: SQ, CQ and one PRP list page per
// command slot, in one DMA block.
struct IoQueueMemory {
    uint16_t qid = 0;
    uint16_t entries = 0;
    std::unique_ptr<DmaBlock> block;
    QueueMemory rings;
    std::vector<PrpListPage> slot_pages;
    uint64_t zero_page_iova = 0;  // a page of zeroes the drive may read
};

class Controller {
public:
    static Result<std::shared_ptr<Controller>> open(const std::string& bdf);
    ~Controller();
    Controller(const Controller&) = delete;
    Controller& operator=(const Controller&) = delete;

    const std::string& bdf() const { return device_->bdf(); }
    const DriveController& identity() const { return identity_; }
    const regs::Cap& capabilities() const { return cap_; }
    const std::shared_ptr<VfioContainer>& container() const { return container_; }
    // The most bytes one command carries (MDTS), 0 for no limit.
    uint64_t max_transfer_bytes() const;

    Result<DriveNamespace> identify_namespace(uint32_t nsid);
    // A new I/O queue pair of up to `entries` entries (capped by CAP.MQES),
    // polled (no interrupt), created on the drive before this returns.
    Result<IoQueueMemory> create_io_queue(uint16_t entries);
    void delete_io_queue(const IoQueueMemory& q);

private:
    Controller() = default;
    Result<void> bring_up();
    // One admin command, waited for (polled) up to `timeout`; with
    // `data_out`, the 4 KiB the drive wrote into the admin data page
    // (whose IOVA admin_data_iova() is) are copied there.
    Result<proto::Cqe> admin(proto::Sqe sqe, std::chrono::milliseconds timeout = std::chrono::seconds(10),
                             void* data_out = nullptr);
    uint64_t admin_data_iova() const;

    std::shared_ptr<VfioContainer> container_;
    std::unique_ptr<VfioDevice> device_;
    std::unique_ptr<DmaBlock> admin_memory_;  // SQ page, CQ page, one 4 KiB data page
    std::mutex admin_mutex_;
    std::optional<QueueCore> admin_queue_;
    regs::Cap cap_;
    DriveController identity_;
    std::vector<uint16_t> free_qids_;
    bool enabled_ = false;
};

}  // namespace nvmfd::plugins::pcie
