#include "plugins/backend_pcie/vfio_container.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <linux/vfio.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <vector>

#include "core/runtime/log.hpp"

namespace nvmfd::plugins::pcie {
namespace {

namespace fs = std::filesystem;
constexpr const char* kField = "device";

// The group's other functions and their drivers, for an error that says
// which ones keep the group from being used.
std::string group_members(const std::string& bdf) {
    std::string out;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator("/sys/bus/pci/devices/" + bdf + "/iommu_group/devices", ec)) {
        const std::string name = e.path().filename();
        if (name == bdf) continue;
        std::error_code ec2;
        const auto driver = fs::read_symlink(e.path() / "driver", ec2);
        out += fmt::format("{}{} ({})", out.empty() ? "" : ", ", name,
                           ec2 ? std::string("no driver") : driver.filename().string());
    }
    return out;
}

// Usable IOVA ranges from VFIO_IOMMU_GET_INFO's capability chain; the
// whole 39-bit space QEMU's VT-d offers when the kernel lists none.
std::vector<IovaRange> usable_iova_ranges(int container) {
    std::vector<uint8_t> buf(sizeof(vfio_iommu_type1_info));
    for (int attempt = 0; attempt < 2; ++attempt) {
        auto* info = reinterpret_cast<vfio_iommu_type1_info*>(buf.data());
        info->argsz = uint32_t(buf.size());
        if (::ioctl(container, VFIO_IOMMU_GET_INFO, info) != 0) break;
        if (info->argsz > buf.size()) {  // the capabilities did not fit: ask again with room
            buf.resize(info->argsz);
            continue;
        }
        if (!(info->flags & VFIO_IOMMU_INFO_CAPS) || info->cap_offset == 0) break;
        std::vector<IovaRange> ranges;
        for (uint32_t off = info->cap_offset; off && off + sizeof(vfio_info_cap_header) <= buf.size();) {
            auto* hdr = reinterpret_cast<vfio_info_cap_header*>(buf.data() + off);
            if (hdr->id == VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE) {
                auto* cap = reinterpret_cast<vfio_iommu_type1_info_cap_iova_range*>(hdr);
                for (uint32_t i = 0; i < cap->nr_iovas; ++i)
                    ranges.push_back({cap->iova_ranges[i].start, cap->iova_ranges[i].end});
            }
            off = hdr->next;
        }
        if (!ranges.empty()) return ranges;
        break;
    }
    return {{0, (1ull << 39) - 1}};
}

}  // namespace

VfioGroup::~VfioGroup() {
    ::close(fd_);
    container_->group_closed(number_);
}

Result<std::shared_ptr<VfioContainer>> VfioContainer::shared() {
    static std::mutex mutex;
    static std::weak_ptr<VfioContainer> current;
    std::lock_guard lock(mutex);
    if (auto c = current.lock()) return c;
    const int fd = ::open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return make_error(errno == ENOENT ? ErrorCode::NotSupported : ErrorCode::PermissionDenied,
                          fmt::format("cannot open /dev/vfio/vfio: {} (modprobe vfio-pci)", std::strerror(errno)),
                          kField);
    std::shared_ptr<VfioContainer> c(new VfioContainer(fd));
    if (::ioctl(fd, VFIO_GET_API_VERSION) != VFIO_API_VERSION)
        return make_error(ErrorCode::NotSupported, "the kernel's VFIO API version is not the one nvmfd knows", kField);
    if (::ioctl(fd, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) <= 0)
        return make_error(ErrorCode::NotSupported,
                          "the kernel offers no type1 VFIO IOMMU: modprobe vfio_iommu_type1", kField);
    c->self_ = c;
    current = c;
    return c;
}

VfioContainer::~VfioContainer() { ::close(fd_); }

Result<std::shared_ptr<VfioGroup>> VfioContainer::group_of(const std::string& bdf) {
    std::error_code ec;
    const fs::path dev = "/sys/bus/pci/devices/" + bdf;
    if (!fs::exists(dev, ec)) return make_error(ErrorCode::NotFound, fmt::format("no PCI function {}", bdf), kField);
    const auto link = fs::read_symlink(dev / "iommu_group", ec);
    if (ec)
        return make_error(ErrorCode::NotSupported,
                          fmt::format("{} has no IOMMU group: boot with intel_iommu=on (VT-d) or amd_iommu=on", bdf),
                          kField);
    const int number = std::atoi(link.filename().c_str());

    std::lock_guard lock(mutex_);
    if (auto it = groups_.find(number); it != groups_.end())
        if (auto g = it->second.lock()) return g;
    const std::string node = fmt::format("/dev/vfio/{}", number);
    const int fd = ::open(node.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        const int err = errno;
        std::error_code ec2;
        const auto driver = fs::read_symlink(dev / "driver", ec2);
        if (err == ENOENT)
            return make_error(
                ErrorCode::InvalidArgument,
                fmt::format("{} is not bound to vfio-pci (its driver: {}); bind it with: echo vfio-pci > {}/driver_override; "
                            "echo {} > {}/driver/unbind; echo {} > /sys/bus/pci/drivers_probe",
                            bdf, ec2 ? std::string("none") : driver.filename().string(), dev.string(), bdf,
                            dev.string(), bdf),
                kField);
        if (err == EBUSY)
            return make_error(ErrorCode::Busy,
                              fmt::format("{} is in use by another process (its VFIO group {} is open)", bdf, number),
                              kField);
        return make_error(err == EACCES || err == EPERM ? ErrorCode::PermissionDenied : ErrorCode::Io,
                          fmt::format("cannot open {}: {}", node, std::strerror(err)), kField);
    }
    // Closed here on a failure; a VfioGroup from the attach on (its
    // destructor takes mutex_, held here).
    struct CloseOnError {
        int fd;
        ~CloseOnError() { if (fd >= 0) ::close(fd); }
    } closer{fd};
    vfio_group_status status{};
    status.argsz = sizeof status;
    if (::ioctl(fd, VFIO_GROUP_GET_STATUS, &status) != 0 || !(status.flags & VFIO_GROUP_FLAGS_VIABLE))
        return make_error(ErrorCode::InvalidArgument,
                          fmt::format("{}'s IOMMU group {} is not usable: every function in it must be bound to "
                                      "vfio-pci or to no driver (others: {})",
                                      bdf, number, group_members(bdf)),
                          kField);
    if (::ioctl(fd, VFIO_GROUP_SET_CONTAINER, &fd_) != 0)
        return make_error(errno == EPERM ? ErrorCode::InvalidArgument : ErrorCode::Io,
                          fmt::format("cannot attach {}'s IOMMU group {}: {} (others in the group: {})", bdf, number,
                                      std::strerror(errno), group_members(bdf)),
                          kField);
    if (!iommu_set_) {
        if (auto r = set_iommu_model(bdf); !r) return nvmfd::unexpected(r.error());
    }
    closer.fd = -1;
    auto group = std::make_shared<VfioGroup>(self_.lock(), fd, number);
    groups_[number] = group;
    return group;
}

// With the first group: the type1 model, the usable IOVA ranges, and the
// mappings a previous set of groups had.
Result<void> VfioContainer::set_iommu_model(const std::string& bdf) {
    if (::ioctl(fd_, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) != 0) {
        const int err = errno;
        if (err == ENODEV)
            return make_error(ErrorCode::NotSupported, "no type1 VFIO IOMMU: modprobe vfio_iommu_type1", kField);
        if (err == EPERM)
            return make_error(ErrorCode::NotSupported,
                              fmt::format("the IOMMU of {} has no interrupt remapping, which VFIO requires "
                                          "(a QEMU guest needs -device intel-iommu,intremap=on)",
                                          bdf),
                              kField);
        return make_error(ErrorCode::Io, fmt::format("VFIO_SET_IOMMU for {}: {}", bdf, std::strerror(err)), kField);
    }
    iommu_set_ = true;
    if (!iovas_) {
        const auto ranges = usable_iova_ranges(fd_);
        for (const auto& r : ranges) log::debug("pcie: usable IOVA range {:#x}-{:#x}", r.start, r.last);
        iovas_.emplace(ranges);
    }
    for (const auto& [iova, m] : mappings_)
        if (int err = map_dma(m.vaddr, iova, m.len))
            log::error("pcie: cannot map {} bytes again for DMA after the IOMMU was reset: {}", m.len,
                       std::strerror(err));
    return {};
}

int VfioContainer::map_dma(const void* vaddr, uint64_t iova, uint64_t len) {
    vfio_iommu_type1_dma_map map{};
    map.argsz = sizeof map;
    map.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
    map.vaddr = reinterpret_cast<uint64_t>(vaddr);
    map.iova = iova;
    map.size = len;
    return ::ioctl(fd_, VFIO_IOMMU_MAP_DMA, &map) == 0 ? 0 : errno;
}

Result<uint64_t> VfioContainer::map(const void* vaddr, uint64_t len) {
    std::lock_guard lock(mutex_);
    if (!iovas_) return make_error(ErrorCode::Internal, "no drive opened yet: nothing to map memory for", kField);
    auto iova = iovas_->allocate(len, reinterpret_cast<uint64_t>(vaddr));
    if (!iova)
        return make_error(ErrorCode::NotSupported,
                          fmt::format("no room left in the IOMMU's address space for {} more bytes", len), kField);
    if (iommu_set_) {
        if (int err = map_dma(vaddr, *iova, len)) {
            iovas_->release(*iova, len);
            if (err == ENOMEM)
                return make_error(ErrorCode::NotSupported,
                                  fmt::format("cannot pin {} bytes for DMA: raise LimitMEMLOCK or grant CAP_IPC_LOCK",
                                              len),
                                  kField);
            return make_error(ErrorCode::Io, fmt::format("VFIO_IOMMU_MAP_DMA of {} bytes: {}", len, std::strerror(err)),
                              kField);
        }
    }
    mappings_[*iova] = {vaddr, len};
    return *iova;
}

void VfioContainer::unmap(uint64_t iova, uint64_t len) {
    std::lock_guard lock(mutex_);
    if (mappings_.erase(iova) == 0) return;
    if (iommu_set_) {
        vfio_iommu_type1_dma_unmap unmap{};
        unmap.argsz = sizeof unmap;
        unmap.iova = iova;
        unmap.size = len;
        if (::ioctl(fd_, VFIO_IOMMU_UNMAP_DMA, &unmap) != 0)
            log::warn("pcie: VFIO_IOMMU_UNMAP_DMA at {:#x}: {}", iova, std::strerror(errno));
    }
    iovas_->release(iova, len);
}

void VfioContainer::group_closed(int number) {
    std::lock_guard lock(mutex_);
    if (auto it = groups_.find(number); it != groups_.end() && it->second.expired()) groups_.erase(it);
    for (const auto& [n, g] : groups_)
        if (!g.expired()) return;
    iommu_set_ = false;  // the kernel dropped the model and its mappings with the last group
}

}  // namespace nvmfd::plugins::pcie
