#include "plugins/backend_pcie/dma_memory.hpp"

#include <cerrno>
#include <cstring>
#include <sys/mman.h>

namespace nvmfd::plugins::pcie {

Result<std::unique_ptr<DmaBlock>> DmaBlock::allocate(std::shared_ptr<VfioContainer> container, size_t bytes) {
    constexpr size_t kPage = 4096;
    const size_t size = (bytes + kPage - 1) / kPage * kPage;
    void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (p == MAP_FAILED)
        return make_error(ErrorCode::Io, fmt::format("cannot allocate {} bytes for the drive's queues: {}", size,
                                                     std::strerror(errno)));
    ::madvise(p, size, MADV_DONTFORK);
    std::unique_ptr<DmaBlock> block(new DmaBlock(std::move(container), static_cast<uint8_t*>(p), size));
    std::memset(p, 0, size);
    auto iova = block->container_->map(p, size);
    if (!iova) return nvmfd::unexpected(iova.error());
    block->iova_ = *iova;
    block->mapped_ = true;
    return block;
}

DmaBlock::~DmaBlock() {
    if (mapped_) container_->unmap(iova_, size_);
    ::munmap(data_, size_);
}

}  // namespace nvmfd::plugins::pcie
