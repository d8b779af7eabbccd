#include "plugins/backend_pcie/vfio_device.hpp"

#include <cerrno>
#include <cstring>
#include <linux/vfio.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <vector>

namespace nvmfd::plugins::pcie {
namespace {

constexpr const char* kField = "device";
constexpr uint32_t kPciCommand = 0x04;
constexpr uint16_t kMemorySpace = 0x2;
constexpr uint16_t kBusMaster = 0x4;
// Registers and doorbells: what nvmfd touches of BAR0 (QEMU puts its MSI-X
// table after them, 4 KiB aligned).
constexpr uint64_t kRegistersAndDoorbells = 0x2000;

Result<vfio_region_info> region_info(int fd, uint32_t index, const std::string& bdf) {
    vfio_region_info info{};
    info.argsz = sizeof info;
    info.index = index;
    if (::ioctl(fd, VFIO_DEVICE_GET_REGION_INFO, &info) != 0)
        return make_error(ErrorCode::Io, fmt::format("{}: VFIO region {}: {}", bdf, index, std::strerror(errno)),
                          kField);
    return info;
}

}  // namespace

Result<std::unique_ptr<VfioDevice>> VfioDevice::open(VfioContainer& container, const std::string& bdf) {
    auto group = container.group_of(bdf);
    if (!group) return nvmfd::unexpected(group.error());
    const int fd = ::ioctl((*group)->fd(), VFIO_GROUP_GET_DEVICE_FD, bdf.c_str());
    if (fd < 0)
        return make_error(ErrorCode::Io, fmt::format("{}: cannot get its VFIO device: {}", bdf, std::strerror(errno)),
                          kField);
    std::unique_ptr<VfioDevice> dev(new VfioDevice(std::move(*group), fd, bdf));

    vfio_device_info info{};
    info.argsz = sizeof info;
    if (::ioctl(fd, VFIO_DEVICE_GET_INFO, &info) != 0 || !(info.flags & VFIO_DEVICE_FLAGS_PCI))
        return make_error(ErrorCode::InvalidArgument, fmt::format("{} is not a PCI device to VFIO", bdf), kField);
    dev->can_reset_ = info.flags & VFIO_DEVICE_FLAGS_RESET;

    auto config = region_info(fd, VFIO_PCI_CONFIG_REGION_INDEX, bdf);
    if (!config) return nvmfd::unexpected(config.error());
    dev->config_offset_ = config->offset;

    auto bar0 = region_info(fd, VFIO_PCI_BAR0_REGION_INDEX, bdf);
    if (!bar0) return nvmfd::unexpected(bar0.error());
    if (!(bar0->flags & VFIO_REGION_INFO_FLAG_MMAP) || bar0->size < kRegistersAndDoorbells)
        return make_error(ErrorCode::NotSupported,
                          fmt::format("{}: BAR0 ({} bytes) cannot be mapped: not an NVMe controller nvmfd can drive",
                                      bdf, bar0->size),
                          kField);
    // Only the registers and doorbells: the rest may hold an MSI-X table
    // that VFIO keeps for itself.
    dev->bar0_size_ = kRegistersAndDoorbells;
    void* p = ::mmap(nullptr, dev->bar0_size_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off_t(bar0->offset));
    if (p == MAP_FAILED)
        return make_error(ErrorCode::Io, fmt::format("{}: cannot map BAR0: {}", bdf, std::strerror(errno)), kField);
    dev->bar0_ = static_cast<uint8_t*>(p);

    vfio_irq_info irq{};
    irq.argsz = sizeof irq;
    irq.index = VFIO_PCI_MSIX_IRQ_INDEX;
    if (::ioctl(fd, VFIO_DEVICE_GET_IRQ_INFO, &irq) == 0 && (irq.flags & VFIO_IRQ_INFO_EVENTFD))
        dev->msix_vectors_ = irq.count;
    dev->arm_release_request();
    return dev;
}

VfioDevice::~VfioDevice() { release(); }

void VfioDevice::release() {
    if (fd_ < 0) return;
    unbind_msix();
    if (bar0_) ::munmap(bar0_, bar0_size_);
    bar0_ = nullptr;
    ::close(fd_);  // the kernel clears bus mastering and resets the function
    fd_ = -1;
    if (request_fd_ >= 0) ::close(request_fd_);
    request_fd_ = -1;
    group_.reset();
}

// Without it, unbinding the device (or removing it) would wait for nvmfd
// to close it on its own.
void VfioDevice::arm_release_request() {
    vfio_irq_info irq{};
    irq.argsz = sizeof irq;
    irq.index = VFIO_PCI_REQ_IRQ_INDEX;
    if (::ioctl(fd_, VFIO_DEVICE_GET_IRQ_INFO, &irq) != 0 || irq.count < 1 || !(irq.flags & VFIO_IRQ_INFO_EVENTFD))
        return;
    const int efd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (efd < 0) return;
    if (!set_irq_eventfds(VFIO_PCI_REQ_IRQ_INDEX, std::vector<int>{efd})) {
        ::close(efd);
        return;
    }
    request_fd_ = efd;
}

bool VfioDevice::release_requested() {
    uint64_t n = 0;
    return request_fd_ >= 0 && ::read(request_fd_, &n, sizeof n) == sizeof n && n > 0;
}

uint32_t VfioDevice::read32(uint32_t offset) { return *register_address(offset); }

void VfioDevice::write32(uint32_t offset, uint32_t value) { *register_address(offset) = value; }

Result<void> VfioDevice::enable_bus_master() {
    uint16_t command = 0;
    if (::pread(fd_, &command, sizeof command, off_t(config_offset_ + kPciCommand)) != sizeof command)
        return make_error(ErrorCode::Io, fmt::format("{}: cannot read its PCI command register", bdf_), kField);
    command |= kMemorySpace | kBusMaster;
    if (::pwrite(fd_, &command, sizeof command, off_t(config_offset_ + kPciCommand)) != sizeof command)
        return make_error(ErrorCode::Io, fmt::format("{}: cannot enable bus mastering", bdf_), kField);
    return {};
}

Result<void> VfioDevice::bind_msix(const std::vector<int>& fds) {
    if (fds.empty() || fds.size() > msix_vectors_)
        return make_error(ErrorCode::NotSupported,
                          fmt::format("{} has {} MSI-X vectors; {} wanted", bdf_, msix_vectors_, fds.size()), kField);
    if (!set_irq_eventfds(VFIO_PCI_MSIX_IRQ_INDEX, fds))
        return make_error(ErrorCode::Io, fmt::format("{}: binding MSI-X vectors: {}", bdf_, std::strerror(errno)),
                          kField);
    msix_bound_ = true;
    return {};
}

void VfioDevice::unbind_msix() {
    if (!msix_bound_) return;
    set_irq_eventfds(VFIO_PCI_MSIX_IRQ_INDEX, {});
    msix_bound_ = false;
}

// One VFIO_DEVICE_SET_IRQS: `fds` signal interrupts 0.. of `index`; none
// unbinds them all. False (errno set) when the kernel refuses.
bool VfioDevice::set_irq_eventfds(uint32_t index, const std::vector<int>& fds) {
    std::vector<uint8_t> buf(sizeof(vfio_irq_set) + fds.size() * sizeof(int32_t));
    auto* set = reinterpret_cast<vfio_irq_set*>(buf.data());
    set->argsz = uint32_t(buf.size());
    set->flags = (fds.empty() ? VFIO_IRQ_SET_DATA_NONE : VFIO_IRQ_SET_DATA_EVENTFD) | VFIO_IRQ_SET_ACTION_TRIGGER;
    set->index = index;
    set->start = 0;
    set->count = uint32_t(fds.size());
    for (size_t i = 0; i < fds.size(); ++i) {
        const int32_t fd = fds[i];
        std::memcpy(set->data + i * sizeof(int32_t), &fd, sizeof fd);
    }
    return ::ioctl(fd_, VFIO_DEVICE_SET_IRQS, set) == 0;
}

Result<void> VfioDevice::reset() {
    if (!can_reset_)
        return make_error(ErrorCode::NotSupported, fmt::format("{} offers no function-level reset", bdf_), kField);
    if (::ioctl(fd_, VFIO_DEVICE_RESET) != 0)
        return make_error(ErrorCode::Io, fmt::format("{}: VFIO_DEVICE_RESET: {}", bdf_, std::strerror(errno)), kField);
    return enable_bus_master();
}

}  // namespace nvmfd::plugins::pcie
