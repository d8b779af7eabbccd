// Bringing an NVMe controller up and down over its registers (NVMe base
// spec, "Initialization" and "Shutdown"): disable it if enabled (after it
// finished becoming ready, as the Linux driver does), give it the admin
// queues, enable it with nvmfd's memory page size and entry sizes, and wait
// for CSTS.RDY within CAP.TO; at the end, a normal shutdown. Each failure
// says what the controller did, for the admin.
#pragma once

#include <cstdint>

#include "core/runtime/error.hpp"
#include "plugins/backend_pcie/nvme_regs.hpp"
#include "plugins/backend_pcie/register_access.hpp"

namespace nvmfd::plugins::pcie {

struct AdminQueueMemory {
    uint64_t sq_iova = 0;  // page aligned
    uint64_t cq_iova = 0;  // page aligned
    uint16_t entries = 0;  // both queues; 2 to 4096
};

// CAP, read and checked: NVM command set, nvmfd's page size (4 KiB) in range.
Result<regs::Cap> read_capabilities(RegisterAccess& r, uint32_t page_size = 4096);

// Disable, configure, enable. Returns the capabilities.
Result<regs::Cap> enable_controller(RegisterAccess& r, WaitClock& clock, const AdminQueueMemory& admin,
                                    uint32_t page_size = 4096);

// CC.EN = 0 and wait for CSTS.RDY = 0 (a controller reset: every queue is gone).
Result<void> disable_controller(RegisterAccess& r, WaitClock& clock, const regs::Cap& cap);

// A normal shutdown (CC.SHN = 01b), waiting up to `timeout` for CSTS.SHST = 10b.
Result<void> shut_down_controller(RegisterAccess& r, WaitClock& clock, std::chrono::milliseconds timeout);

}  // namespace nvmfd::plugins::pcie
