// The malloc backend: namespaces in anonymous memory, for tests, demos and
// benchmarks of the target itself. Reads are zero copy (the transport sends
// straight from the namespace's memory); deallocated ranges are returned to
// the kernel and read back as zeroes, unless a transport registered the
// memory (pin_lent_memory): then they are only zeroed.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <sys/mman.h>

#include "core/plugin/abi.hpp"
#include "core/runtime/log.hpp"

namespace nvmfd::plugins::malloc_backend {
namespace {

using plugin::BlockIo;
using plugin::IoOp;
using plugin::IoStatus;

constexpr uint64_t kPage = 4096;

class MallocDevice;

class MallocChannel final : public plugin::IoChannel {
public:
    explicit MallocChannel(MallocDevice& dev) : dev_(dev) {}
    void submit(BlockIo& io) override;

private:
    MallocDevice& dev_;
};

class MallocDevice final : public plugin::BlockDevice {
public:
    MallocDevice(uint8_t* base, uint64_t size, uint64_t reserved, uint32_t block_size)
        : base_(base), size_(size), reserved_(reserved), block_size_(block_size) {}
    ~MallocDevice() override { ::munmap(base_, reserved_); }

    plugin::DeviceInfo info() const override {
        plugin::DeviceInfo i;
        i.block_size = block_size_;
        i.num_blocks = size_ / block_size_;
        i.volatile_write_cache = false;
        i.write_zeroes = true;
        i.deallocate = true;
        i.deallocated_reads_zero = true;
        i.provides_read_buffers = true;
        return i;
    }
    std::unique_ptr<plugin::IoChannel> create_channel(runtime::Reactor&) override {
        return std::make_unique<MallocChannel>(*this);
    }
    Result<void> resize(uint64_t new_size) override {
        if (new_size == 0 || new_size % block_size_)
            return make_error(ErrorCode::InvalidArgument,
                              fmt::format("size must be a non-zero multiple of the block size ({})", block_size_),
                              "size");
        if (new_size > reserved_)
            return make_error(ErrorCode::InvalidArgument,
                              fmt::format("a malloc namespace can grow to its max_size ({} bytes) only", reserved_),
                              "size");
        uint64_t old_mapped = round_up(size_), new_mapped = round_up(new_size);
        if (new_mapped > old_mapped) {
            if (::mprotect(base_ + old_mapped, new_mapped - old_mapped, PROT_READ | PROT_WRITE) != 0)
                return make_error(ErrorCode::Io, fmt::format("mprotect: {}", std::strerror(errno)));
        } else if (new_mapped < old_mapped) {
            // Freed now, so that growing later reads zeroes there. Pinned
            // pages stay mapped (zeroed): a lane made later registers the
            // whole range that was lent, and cannot pin inaccessible pages.
            discard(base_ + new_mapped, old_mapped - new_mapped);
            if (!pinned_.load(std::memory_order_acquire))
                ::mprotect(base_ + new_mapped, old_mapped - new_mapped, PROT_NONE);
        }
        if (new_size < size_ && new_size < new_mapped) std::memset(base_ + new_size, 0, new_mapped - new_size);
        size_ = new_size;
        return {};
    }
    plugin::Params persistent_params() const override {
        return {{"size", std::to_string(size_)},
                {"block_size", std::to_string(block_size_)},
                {"max_size", std::to_string(reserved_)}};
    }
    std::string describe() const override { return fmt::format("malloc {} MiB", size_ >> 20); }
    std::span<const std::byte> pin_lent_memory() override {
        pinned_.store(true, std::memory_order_release);
        return {reinterpret_cast<const std::byte*>(base_), round_up(size_)};
    }

    uint8_t* base() { return base_; }
    uint64_t size() const { return size_; }

    void zero(uint64_t offset, uint64_t len) {
        // Whole pages go back to the kernel (and read as zeroes); edges are cleared.
        uint64_t first = round_up(offset), last = (offset + len) & ~(kPage - 1);
        if (first < last) {
            std::memset(base_ + offset, 0, first - offset);
            discard(base_ + first, last - first);
            std::memset(base_ + last, 0, offset + len - last);
        } else {
            std::memset(base_ + offset, 0, len);
        }
    }

    static uint64_t round_up(uint64_t v) { return (v + kPage - 1) & ~(kPage - 1); }

private:
    // Whole pages to read as zeroes: handed back to the kernel, or, once a
    // transport pinned them (its registration keeps the old pages), cleared
    // in place.
    void discard(uint8_t* at, uint64_t len) {
        if (pinned_.load(std::memory_order_acquire)) std::memset(at, 0, len);
        else ::madvise(at, len, MADV_DONTNEED);
    }

    uint8_t* base_;
    uint64_t size_;
    const uint64_t reserved_;
    const uint32_t block_size_;
    std::atomic<bool> pinned_{false};
};

void MallocChannel::submit(BlockIo& io) {
    if (io.op != IoOp::Flush && io.op != IoOp::Deallocate &&
        (io.offset > dev_.size() || io.length > dev_.size() - io.offset)) {
        io.complete(IoStatus::InvalidRange);
        return;
    }
    uint8_t* at = dev_.base() + io.offset;
    switch (io.op) {
    case IoOp::Read:
        if (io.iov_count == 0) {
            io.backend_iov = iovec{at, io.length};
            io.iov = &io.backend_iov;
            io.iov_count = 1;
        } else {
            uint64_t left = io.length;
            for (uint32_t i = 0; i < io.iov_count && left; ++i) {
                size_t n = std::min<uint64_t>(left, io.iov[i].iov_len);
                std::memcpy(io.iov[i].iov_base, at, n);
                at += n;
                left -= n;
            }
        }
        break;
    case IoOp::Write: {
        uint64_t left = io.length;
        for (uint32_t i = 0; i < io.iov_count && left; ++i) {
            size_t n = std::min<uint64_t>(left, io.iov[i].iov_len);
            std::memcpy(at, io.iov[i].iov_base, n);
            at += n;
            left -= n;
        }
        break;
    }
    case IoOp::WriteZeroes: dev_.zero(io.offset, io.length); break;
    case IoOp::Deallocate:
        for (uint32_t i = 0; i < io.range_count; ++i) {
            const auto& r = io.ranges[i];
            if (r.offset > dev_.size() || r.length > dev_.size() - r.offset) {
                io.complete(IoStatus::InvalidRange);
                return;
            }
            dev_.zero(r.offset, r.length);
        }
        break;
    case IoOp::Flush: break;  // nothing is cached
    }
    io.complete(IoStatus::Ok);
}

// What a malloc namespace's parameters say; open() and check() share this
// reading, so a dry run refuses exactly what open() would.
struct MallocParams {
    uint64_t size = 0;
    uint64_t block_size = 512;
    uint64_t reserve = 0;  // address space kept for growth, page-rounded
};

Result<MallocParams> parse_params(const plugin::Params& params) {
    MallocParams m;
    auto size_text = plugin::find_param(params, "size");
    if (!size_text) return make_error(ErrorCode::InvalidArgument, "a malloc namespace needs a size", "size");
    auto size = plugin::parse_size(*size_text, "size");
    if (!size) return nvmfd::unexpected(size.error());
    m.size = *size;
    if (auto bs = plugin::find_param(params, "block_size")) {
        auto v = plugin::parse_size(*bs, "block_size");
        if (!v) return nvmfd::unexpected(v.error());
        m.block_size = *v;
    }
    if (m.block_size != 512 && m.block_size != 4096)
        return make_error(ErrorCode::InvalidArgument, "block size must be 512 or 4096", "block_size");
    if (m.size == 0 || m.size % m.block_size)
        return make_error(ErrorCode::InvalidArgument,
                          fmt::format("size must be a non-zero multiple of the block size ({})", m.block_size),
                          "size");
    m.reserve = m.size;
    if (auto max = plugin::find_param(params, "max_size")) {
        auto v = plugin::parse_size(*max, "max_size");
        if (!v) return nvmfd::unexpected(v.error());
        m.reserve = std::max(m.reserve, *v);
    } else {
        m.reserve = std::max(m.reserve, std::min<uint64_t>(m.size * 4, 1ull << 40));
    }
    m.reserve = MallocDevice::round_up(m.reserve);
    return m;
}

class MallocBackend final : public plugin::Backend {
public:
    std::string_view name() const override { return "malloc"; }

    Result<void> check(const plugin::Params& params) const override {
        auto m = parse_params(params);
        if (!m) return nvmfd::unexpected(m.error());
        return {};
    }

    Result<std::unique_ptr<plugin::BlockDevice>> open(const plugin::Params& params) override {
        auto parsed = parse_params(params);
        if (!parsed) return nvmfd::unexpected(parsed.error());
        const MallocParams& m = *parsed;
        // Address space is reserved up front so that resize never moves the
        // memory (zero-copy reads may be sending from it); pages are
        // committed only when written.
        void* p = ::mmap(nullptr, m.reserve, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED)
            return make_error(ErrorCode::Io,
                              fmt::format("cannot reserve {} bytes: {}", m.reserve, std::strerror(errno)), "size");
        if (::mprotect(p, MallocDevice::round_up(m.size), PROT_READ | PROT_WRITE) != 0) {
            int e = errno;
            ::munmap(p, m.reserve);
            return make_error(ErrorCode::Io, fmt::format("cannot map {} bytes: {}", m.size, std::strerror(e)), "size");
        }
        return std::make_unique<MallocDevice>(static_cast<uint8_t*>(p), m.size, m.reserve,
                                              static_cast<uint32_t>(m.block_size));
    }
};

std::unique_ptr<plugin::Backend> create(const plugin::Params&) { return std::make_unique<MallocBackend>(); }

}  // namespace
}  // namespace nvmfd::plugins::malloc_backend

NVMFD_PLUGIN((nvmfd::plugin::PluginDescriptor{nvmfd::plugin::PluginKind::Backend, "malloc",
                                              "namespaces in memory (tests, demos, benchmarks)", nullptr,
                                              nvmfd::plugins::malloc_backend::create}))
