#include "tests/backend_uring/harness.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <doctest/doctest.h>
#include <sys/mount.h>
#include <unistd.h>

namespace nvmfd::test_uring {

// --- buffers and patterns ---

Buffer::Buffer(size_t size) : size_(size) {
    size_t rounded = (size + 4095) / 4096 * 4096;
    data_ = static_cast<uint8_t*>(std::aligned_alloc(4096, rounded ? rounded : 4096));
    REQUIRE(data_ != nullptr);
    std::memset(data_, 0, rounded);
}

Buffer::~Buffer() { std::free(data_); }

std::vector<iovec> Buffer::iov(size_t piece) const {
    std::vector<iovec> out;
    for (size_t off = 0; off < size_; off += piece) out.push_back(iovec{data_ + off, std::min(piece, size_ - off)});
    return out;
}

namespace {

uint8_t pattern_byte(uint64_t offset, uint32_t seed) {
    uint64_t x = (offset / 8) * 0x9E3779B97F4A7C15ull ^ (uint64_t(seed) << 32 | seed);
    x ^= x >> 29;
    x *= 0xBF58476D1CE4E5B9ull;
    x ^= x >> 32;
    return static_cast<uint8_t>(x >> (8 * (offset % 8)));
}

}  // namespace

void fill_pattern(uint8_t* out, size_t len, uint64_t offset, uint32_t seed) {
    for (size_t i = 0; i < len; ++i) out[i] = pattern_byte(offset + i, seed);
}

bool matches_pattern(const uint8_t* in, size_t len, uint64_t offset, uint32_t seed) {
    for (size_t i = 0; i < len; ++i)
        if (in[i] != pattern_byte(offset + i, seed)) return false;
    return true;
}

bool all_zero(const uint8_t* in, size_t len) {
    for (size_t i = 0; i < len; ++i)
        if (in[i]) return false;
    return true;
}

// --- environment ---

std::string plugin_dir() {
    if (const char* d = std::getenv("NVMFD_PLUGIN_DIR")) return d;
    return NVMFD_TEST_PLUGIN_DIR;
}

Env::Env(unsigned reactors) : loader_(plugin_dir()) {
    auto loaded = loader_.load(plugin::PluginKind::Backend, "uring");
    REQUIRE_MESSAGE(loaded.has_value(), (loaded ? "" : loaded.error().describe()));
    backend_ = (*loaded)->descriptor->create_backend({});
    REQUIRE(backend_);
    runtime::ReactorOptions options;
    options.buffer_pool_bytes = 1u << 20;
    for (unsigned i = 0; i < reactors; ++i) {
        reactors_.push_back(std::make_unique<runtime::Reactor>(i, options));
        reactors_.back()->start();
    }
}

Env::~Env() {
    for (auto& r : reactors_) r->stop();
    for (auto& r : reactors_) r->join();
    reactors_.clear();
    backend_.reset();
}

std::unique_ptr<Device> Env::open_device(const plugin::Params& params) {
    auto dev = open(params);
    REQUIRE_MESSAGE(dev.has_value(), (dev ? "" : dev.error().describe()));
    return std::make_unique<Device>(*this, std::move(*dev));
}

void Env::on_reactor(unsigned i, const std::function<void()>& fn) {
    std::promise<void> done;
    auto f = done.get_future();
    reactor(i).post([&] {
        fn();
        done.set_value();
    });
    REQUIRE(f.wait_for(std::chrono::seconds(30)) == std::future_status::ready);
}

namespace {

struct Batch;

struct Slot {
    plugin::BlockIo io;
    IoResult result;
    Batch* batch = nullptr;
};

struct Batch {
    std::vector<Slot> slots;
    std::atomic<size_t> left{0};
    std::promise<void> done;
    runtime::Reactor* reactor = nullptr;
};

void on_complete(plugin::BlockIo& io) {
    auto* slot = static_cast<Slot*>(io.owner);
    slot->result = IoResult{io.status, io.error_number, runtime::Reactor::current() == slot->batch->reactor};
    if (slot->batch->left.fetch_sub(1) == 1) slot->batch->done.set_value();
}

}  // namespace

std::vector<IoResult> Env::run(unsigned i, plugin::IoChannel& channel, std::vector<plugin::BlockIo> ios) {
    auto batch = std::make_shared<Batch>();
    batch->reactor = &reactor(i);
    batch->slots.resize(ios.size());
    batch->left = ios.size();
    for (size_t k = 0; k < ios.size(); ++k) {
        Slot& s = batch->slots[k];
        s.io = ios[k];
        s.io.owner = &s;
        s.io.on_complete = on_complete;
        s.batch = batch.get();
    }
    if (ios.empty()) return {};
    auto f = batch->done.get_future();
    reactor(i).post([batch, &channel] {
        for (auto& s : batch->slots) channel.submit(s.io);
    });
    if (f.wait_for(std::chrono::seconds(60)) != std::future_status::ready) {
        // Completions may still arrive: keep their memory.
        static std::vector<std::shared_ptr<Batch>> hung;
        hung.push_back(batch);
        FAIL("I/O did not complete within 60 s");
    }
    std::vector<IoResult> out;
    for (auto& s : batch->slots) out.push_back(s.result);
    return out;
}

// --- device ---

Device::Device(Env& env, std::unique_ptr<plugin::BlockDevice> dev) : env_(env), dev_(std::move(dev)) {
    channels_.resize(env.reactor_count());
}

Device::~Device() { close(); }

void Device::close() {
    for (auto& c : channels_) c.reset();
    dev_.reset();
}

plugin::IoChannel& Device::channel(unsigned reactor) {
    auto& c = channels_.at(reactor);
    if (!c) env_.on_reactor(reactor, [&] { c = dev_->create_channel(env_.reactor(reactor)); });
    return *c;
}

namespace {

plugin::BlockIo make_io(plugin::IoOp op, uint64_t offset, uint64_t length) {
    plugin::BlockIo io;
    io.op = op;
    io.offset = offset;
    io.length = length;
    return io;
}

IoResult single(Env& env, unsigned reactor, plugin::IoChannel& ch, const plugin::BlockIo& io) {
    auto r = env.run(reactor, ch, {io});
    REQUIRE(r.size() == 1);
    CHECK(r[0].on_reactor_thread);
    return r[0];
}

}  // namespace

IoResult Device::write(uint64_t offset, Buffer& data, size_t len, size_t piece, bool fua, unsigned reactor) {
    auto iov = data.iov(piece);
    auto io = make_io(plugin::IoOp::Write, offset, len);
    io.iov = iov.data();
    io.iov_count = static_cast<uint32_t>(iov.size());
    io.fua = fua;
    auto& ch = channel(reactor);
    return single(env_, reactor, ch, io);
}

IoResult Device::read(uint64_t offset, Buffer& into, size_t len, size_t piece, unsigned reactor) {
    auto iov = into.iov(piece);
    auto io = make_io(plugin::IoOp::Read, offset, len);
    io.iov = iov.data();
    io.iov_count = static_cast<uint32_t>(iov.size());
    auto& ch = channel(reactor);
    auto r = single(env_, reactor, ch, io);
    // The backend must leave the caller's iovec array as it found it.
    auto again = into.iov(piece);
    for (size_t i = 0; i < iov.size(); ++i) {
        CHECK(iov[i].iov_base == again[i].iov_base);
        CHECK(iov[i].iov_len == again[i].iov_len);
    }
    return r;
}

IoResult Device::flush() {
    auto& ch = channel(0);
    return single(env_, 0, ch, make_io(plugin::IoOp::Flush, 0, 0));
}

IoResult Device::write_zeroes(uint64_t offset, uint64_t len, bool fua) {
    auto io = make_io(plugin::IoOp::WriteZeroes, offset, len);
    io.fua = fua;
    auto& ch = channel(0);
    return single(env_, 0, ch, io);
}

IoResult Device::deallocate(std::vector<plugin::ByteRange> ranges) {
    auto io = make_io(plugin::IoOp::Deallocate, 0, 0);
    io.ranges = ranges.data();
    io.range_count = static_cast<uint32_t>(ranges.size());
    auto& ch = channel(0);
    return single(env_, 0, ch, io);
}

void Device::check_roundtrip(uint64_t offset, size_t len, uint32_t seed, size_t piece, bool fua) {
    CAPTURE(offset);
    CAPTURE(len);
    CAPTURE(piece);
    Buffer out(len), in(len);
    fill_pattern(out.data(), len, offset, seed);
    auto w = write(offset, out, len, piece, fua);
    REQUIRE(w.status == IoStatus::Ok);
    auto r = read(offset, in, len, piece);
    REQUIRE(r.status == IoStatus::Ok);
    CHECK(matches_pattern(in.data(), len, offset, seed));
}

// --- scaffolding ---

TempDir::TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "nvmfd-uring-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path_ = tmpl;
}

TempDir::~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
}

namespace {

std::string run_command(const std::string& cmd, int* status) {
    std::string out;
    FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
    if (!p) {
        *status = -1;
        return out;
    }
    char buf[256];
    while (std::fgets(buf, sizeof buf, p)) out += buf;
    *status = ::pclose(p);
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    return out;
}

}  // namespace

bool running_as_root() { return ::geteuid() == 0; }

std::optional<LoopDevice> LoopDevice::create(const std::string& backing, uint64_t size, unsigned sector_size) {
    {
        std::error_code ec;
        fs::resize_file(backing, size, ec);
        if (ec) {
            FILE* f = std::fopen(backing.c_str(), "w");
            if (f) std::fclose(f);
            fs::resize_file(backing, size, ec);
            if (ec) return std::nullopt;
        }
    }
    int status = 0;
    std::string dev = run_command(fmt::format("losetup -f --show --sector-size {} {}", sector_size, backing), &status);
    if (status != 0 || dev.rfind("/dev/loop", 0) != 0) {
        MESSAGE("losetup failed (" << dev << "): loop-device checks skipped");
        return std::nullopt;
    }
    return LoopDevice(dev, backing);
}

LoopDevice::~LoopDevice() {
    if (dev_.empty()) return;
    int status = 0;
    run_command("losetup -d " + dev_, &status);
}

std::optional<TmpfsMount> TmpfsMount::create(const fs::path& dir, const std::string& size) {
    std::error_code ec;
    fs::create_directories(dir, ec);
    std::string opts = "size=" + size + ",mode=0700";
    if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, opts.c_str()) != 0) {
        MESSAGE("cannot mount a tmpfs (" << std::strerror(errno) << "): checks on a full file system skipped");
        return std::nullopt;
    }
    return TmpfsMount(dir);
}

TmpfsMount::~TmpfsMount() {
    if (!dir_.empty()) ::umount2(dir_.c_str(), MNT_DETACH);
}

}  // namespace nvmfd::test_uring
