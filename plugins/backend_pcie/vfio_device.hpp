// One PCI function through VFIO (docs/pcie-design.md 1.2 steps 8-14): its
// device fd, BAR0 mapped for the controller's registers and doorbells, bus
// mastering switched on (without it the drive's DMA is dropped), and a
// function-level reset as the last resort. Closing the device fd makes the
// kernel stop the function's DMA, so a crashed nvmfd leaves no DMA running
// into freed memory.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/runtime/error.hpp"
#include "plugins/backend_pcie/register_access.hpp"
#include "plugins/backend_pcie/vfio_container.hpp"

namespace nvmfd::plugins::pcie {

class VfioDevice final : public RegisterAccess {
public:
    static Result<std::unique_ptr<VfioDevice>> open(VfioContainer& container, const std::string& bdf);
    ~VfioDevice() override;
    VfioDevice(const VfioDevice&) = delete;
    VfioDevice& operator=(const VfioDevice&) = delete;

    const std::string& bdf() const { return bdf_; }
    // BAR0's registers: 32-bit accesses only, as the spec asks.
    uint32_t read32(uint32_t offset) override;
    void write32(uint32_t offset, uint32_t value) override;
    // A doorbell's address for the data path's queues.
    volatile uint32_t* register_address(uint32_t offset) const {
        return reinterpret_cast<volatile uint32_t*>(bar0_ + offset);
    }
    uint64_t bar0_size() const { return bar0_size_; }

    Result<void> enable_bus_master();
    // MSI-X (docs/pcie-design.md 1.4): how many vectors the function has
    // (0: none), and eventfds bound to vectors 0 .. fds.size() - 1 in one
    // call (-1 leaves a vector unbound); each interrupt signals its eventfd.
    uint32_t msix_vectors() const { return msix_vectors_; }
    Result<void> bind_msix(const std::vector<int>& fds);
    void unbind_msix();

    // The kernel's request for the device back (it is being unbound or
    // hot-removed: VFIO_PCI_REQ_IRQ_INDEX, signalled until the device is
    // released). Armed at open when the kernel offers it.
    bool release_requested();
    // Lets go of the device now (BAR0 unmapped, vectors unbound, device
    // fd closed: the kernel's removal goes on). Nothing may touch the
    // registers or doorbells afterwards.
    void release();
    bool released() const { return fd_ < 0; }
    // VFIO_DEVICE_RESET (a function-level reset), then bus mastering again.
    Result<void> reset();

private:
    bool set_irq_eventfds(uint32_t index, const std::vector<int>& fds);
    void arm_release_request();
    VfioDevice(std::shared_ptr<VfioGroup> group, int fd, std::string bdf)
        : group_(std::move(group)), fd_(fd), bdf_(std::move(bdf)) {}

    std::shared_ptr<VfioGroup> group_;
    int fd_;
    std::string bdf_;
    uint8_t* bar0_ = nullptr;
    uint64_t bar0_size_ = 0;
    uint64_t config_offset_ = 0;
    bool can_reset_ = false;
    uint32_t msix_vectors_ = 0;
    bool msix_bound_ = false;
    int request_fd_ = -1;  // eventfd of VFIO_PCI_REQ_IRQ_INDEX, or -1
};

}  // namespace nvmfd::plugins::pcie
