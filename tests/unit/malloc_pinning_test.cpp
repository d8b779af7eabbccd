// The malloc backend's pin_lent_memory(): the range it lends, and that once
// pinned, deallocated pages are zeroed in place instead of handed back to
// the kernel (a registration keeps the old page: a fresh one would never
// reach the hardware). mincore() tells which happened.
#include <doctest/doctest.h>

#include <cstring>
#include <sys/mman.h>
#include <unistd.h>

#include "core/plugin/loader.hpp"
#include "core/runtime/reactor.hpp"

using namespace nvmfd;
using plugin::BlockIo;
using plugin::IoOp;

namespace {

struct MallocDevice {
    plugin::PluginLoader loader{NVMFD_TEST_PLUGIN_DIR};
    runtime::ReactorGroup reactors{1, runtime::ReactorOptions{.buffer_pool_bytes = 1u << 20}};
    std::unique_ptr<plugin::Backend> backend;
    std::unique_ptr<plugin::BlockDevice> device;
    std::unique_ptr<plugin::IoChannel> channel;

    MallocDevice() {
        auto p = loader.load(plugin::PluginKind::Backend, "malloc");
        REQUIRE(p);
        backend = (*p)->descriptor->create_backend({});
        auto d = backend->open({{"size", "1M"}});
        REQUIRE(d);
        device = std::move(*d);
        channel = device->create_channel(reactors.at(0));
    }
    plugin::IoStatus run(BlockIo& io) {
        bool done = false;
        io.owner = &done;
        io.on_complete = [](BlockIo& b) { *static_cast<bool*>(b.owner) = true; };
        channel->submit(io);
        REQUIRE(done);  // the malloc backend completes in place
        return io.status;
    }
    // Lends the page at `offset` (a read with no buffers of ours).
    const uint8_t* page(uint64_t offset) {
        BlockIo io;
        io.op = IoOp::Read;
        io.offset = offset;
        io.length = 4096;
        REQUIRE(run(io) == plugin::IoStatus::Ok);
        REQUIRE(io.iov_count == 1);
        return static_cast<const uint8_t*>(io.iov[0].iov_base);
    }
    void write_page(uint64_t offset, uint8_t fill) {
        std::vector<uint8_t> data(4096, fill);
        iovec v{data.data(), data.size()};
        BlockIo io;
        io.op = IoOp::Write;
        io.offset = offset;
        io.length = 4096;
        io.iov = &v;
        io.iov_count = 1;
        REQUIRE(run(io) == plugin::IoStatus::Ok);
    }
    void deallocate_page(uint64_t offset) {
        plugin::ByteRange r{offset, 4096};
        BlockIo io;
        io.op = IoOp::Deallocate;
        io.ranges = &r;
        io.range_count = 1;
        REQUIRE(run(io) == plugin::IoStatus::Ok);
    }
};

bool resident(const void* p) {
    unsigned char vec = 0;
    REQUIRE(::mincore(const_cast<void*>(p), 4096, &vec) == 0);
    return vec & 1;
}

bool all_zero(const uint8_t* p) {
    for (int i = 0; i < 4096; ++i)
        if (p[i]) return false;
    return true;
}

}  // namespace

TEST_CASE("malloc backend: unpinned, a deallocated page goes back to the kernel") {
    MallocDevice m;
    m.write_page(8192, 0xab);
    const uint8_t* p = m.page(8192);
    CHECK(resident(p));
    m.deallocate_page(8192);
    CHECK_FALSE(resident(p));  // MADV_DONTNEED: the next touch gets a fresh page
    CHECK(all_zero(m.page(8192)));
}

TEST_CASE("malloc backend: pinned, it lends its whole memory and zeroes deallocated pages in place") {
    MallocDevice m;
    std::span<const std::byte> lent = m.device->pin_lent_memory();
    const uint8_t* p = m.page(8192);
    CHECK(reinterpret_cast<const std::byte*>(p) == lent.data() + 8192);
    CHECK(lent.size() == (1u << 20));
    m.write_page(8192, 0xab);
    CHECK(p[0] == 0xab);
    m.deallocate_page(8192);
    CHECK(resident(p));  // the same page, cleared
    CHECK(all_zero(p));
    m.write_page(8192, 0xcd);
    CHECK(p[4095] == 0xcd);
    // Shrinking keeps the pinned pages mapped (zeroed), so that a lane made
    // later can still register all that was lent.
    REQUIRE(m.device->resize(512u << 10));
    const uint8_t* tail = reinterpret_cast<const uint8_t*>(lent.data()) + (768u << 10);
    int fds[2];
    REQUIRE(::pipe(fds) == 0);
    CHECK(::write(fds[1], tail, 1) == 1);  // readable (PROT_NONE would be EFAULT)
    ::close(fds[0]);
    ::close(fds[1]);
    // Growing keeps the range where it was and lends more.
    REQUIRE(m.device->resize(2u << 20));
    auto grown = m.device->pin_lent_memory();
    CHECK(grown.data() == lent.data());
    CHECK(grown.size() == (2u << 20));
}
