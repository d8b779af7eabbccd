// The VFIO container (docs/pcie-design.md 1.2-1.3, 1.5): one per process,
// shared by every drive, so that one DMA mapping of each reactor's buffer
// pool serves all of them (a group joining later gets the mappings replayed
// by the kernel). It opens each drive's IOMMU group (at most one process may
// have a group open: the "one nvmfd per drive" guard), sets the type1 IOMMU
// model when the first group joins, and maps memory for DMA at IOVAs of its
// own choosing (iova_allocator.hpp). Every failure names the device and says
// what the admin can do about it. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "core/runtime/error.hpp"
#include "plugins/backend_pcie/iova_allocator.hpp"

namespace nvmfd::plugins::pcie {

class VfioContainer;

// An open IOMMU group attached to the container; closed with its last user.
class VfioGroup {
public:
    VfioGroup(std::shared_ptr<VfioContainer> container, int fd, int number)
        : container_(std::move(container)), fd_(fd), number_(number) {}
    ~VfioGroup();
    VfioGroup(const VfioGroup&) = delete;
    VfioGroup& operator=(const VfioGroup&) = delete;
    int fd() const { return fd_; }
    int number() const { return number_; }

private:
    std::shared_ptr<VfioContainer> container_;
    int fd_;
    int number_;
};

class VfioContainer {
public:
    // The process's container, opened on first use.
    static Result<std::shared_ptr<VfioContainer>> shared();
    ~VfioContainer();
    VfioContainer(const VfioContainer&) = delete;
    VfioContainer& operator=(const VfioContainer&) = delete;

    // The IOMMU group of PCI function `bdf` ("0000:00:04.0"), opened and
    // attached (shared with other functions of the same group).
    Result<std::shared_ptr<VfioGroup>> group_of(const std::string& bdf);

    // Maps `len` bytes at `vaddr` (both page aligned) for the device to
    // read and write; the IOVA. The memory must stay mapped, in place,
    // until unmap().
    Result<uint64_t> map(const void* vaddr, uint64_t len);
    void unmap(uint64_t iova, uint64_t len);

private:
    friend class VfioGroup;
    struct Mapping {
        const void* vaddr;
        uint64_t len;
    };
    explicit VfioContainer(int fd) : fd_(fd) {}
    Result<void> set_iommu_model(const std::string& bdf);
    int map_dma(const void* vaddr, uint64_t iova, uint64_t len);
    void group_closed(int number);

    std::mutex mutex_;
    int fd_;
    // The kernel drops the IOMMU model and every mapping with the last
    // group; the mappings are kept here and made again when a group joins.
    bool iommu_set_ = false;
    std::optional<IovaAllocator> iovas_;
    std::map<uint64_t, Mapping> mappings_;            // by IOVA
    std::map<int, std::weak_ptr<VfioGroup>> groups_;  // by group number
    std::weak_ptr<VfioContainer> self_;
};

}  // namespace nvmfd::plugins::pcie
