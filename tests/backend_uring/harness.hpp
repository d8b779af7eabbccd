// Drives the uring backend plugin the way the daemon does: dlopen through
// PluginLoader, channels created and I/O submitted and completed on a real
// reactor thread, devices and channels destroyed from the test (control)
// thread. Plus the scaffolding the tests need: temporary directories, loop
// devices, small tmpfs mounts, data patterns.
#pragma once

#include <cstdint>
#include <filesystem>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/plugin/backend.hpp"
#include "core/plugin/loader.hpp"
#include "core/runtime/reactor.hpp"

namespace nvmfd::test_uring {

namespace fs = std::filesystem;
using plugin::IoStatus;

struct IoResult {
    IoStatus status = IoStatus::Aborted;
    int error = 0;
    bool on_reactor_thread = false;
};

// Page-aligned memory, zeroed.
class Buffer {
public:
    explicit Buffer(size_t size);
    ~Buffer();
    Buffer(const Buffer&) = delete;
    Buffer& operator=(const Buffer&) = delete;
    uint8_t* data() { return data_; }
    const uint8_t* data() const { return data_; }
    size_t size() const { return size_; }
    std::vector<iovec> iov(size_t piece) const;  // pieces of `piece` bytes

private:
    uint8_t* data_;
    size_t size_;
};

// Deterministic bytes, a function of (seed, absolute byte offset).
void fill_pattern(uint8_t* out, size_t len, uint64_t offset, uint32_t seed);
bool matches_pattern(const uint8_t* in, size_t len, uint64_t offset, uint32_t seed);
bool all_zero(const uint8_t* in, size_t len);

class Env;

// One namespace as the core holds it: the device and a channel per reactor.
class Device {
public:
    Device(Env& env, std::unique_ptr<plugin::BlockDevice> dev);
    ~Device();  // channels and device go on the calling (control) thread, as in the core
    plugin::BlockDevice& dev() { return *dev_; }
    plugin::DeviceInfo info() const { return dev_->info(); }
    plugin::IoChannel& channel(unsigned reactor = 0);
    void close();  // destroy channels and device now

    IoResult write(uint64_t offset, Buffer& data, size_t len, size_t piece = 4096, bool fua = false,
                   unsigned reactor = 0);
    IoResult read(uint64_t offset, Buffer& into, size_t len, size_t piece = 4096, unsigned reactor = 0);
    IoResult flush();
    IoResult write_zeroes(uint64_t offset, uint64_t len, bool fua = false);
    IoResult deallocate(std::vector<plugin::ByteRange> ranges);
    // Write `len` bytes of pattern `seed` at offset and read them back.
    void check_roundtrip(uint64_t offset, size_t len, uint32_t seed, size_t piece = 4096, bool fua = false);

private:
    Env& env_;
    std::unique_ptr<plugin::BlockDevice> dev_;
    std::vector<std::unique_ptr<plugin::IoChannel>> channels_;
};

class Env {
public:
    explicit Env(unsigned reactors = 1);
    ~Env();
    plugin::Backend& backend() { return *backend_; }
    runtime::Reactor& reactor(unsigned i = 0) { return *reactors_.at(i); }
    unsigned reactor_count() const { return static_cast<unsigned>(reactors_.size()); }

    Result<std::unique_ptr<plugin::BlockDevice>> open(const plugin::Params& params) { return backend_->open(params); }
    std::unique_ptr<Device> open_device(const plugin::Params& params);  // REQUIREs success

    // Run fn on reactor i and wait for it.
    void on_reactor(unsigned i, const std::function<void()>& fn);
    // Submit on reactor i (in one loop turn) and wait for every completion.
    std::vector<IoResult> run(unsigned i, plugin::IoChannel& channel, std::vector<plugin::BlockIo> ios);

private:
    plugin::PluginLoader loader_;
    std::unique_ptr<plugin::Backend> backend_;
    std::vector<std::unique_ptr<runtime::Reactor>> reactors_;
};

class TempDir {
public:
    TempDir();
    ~TempDir();
    const fs::path& path() const { return path_; }
    std::string file(const std::string& name) const { return (path_ / name).string(); }

private:
    fs::path path_;
};

// A loop device over a sparse file; absent when losetup does not work here.
class LoopDevice {
public:
    static std::optional<LoopDevice> create(const std::string& backing, uint64_t size, unsigned sector_size = 512);
    LoopDevice(LoopDevice&& o) noexcept : dev_(std::move(o.dev_)), backing_(std::move(o.backing_)) { o.dev_.clear(); }
    ~LoopDevice();
    const std::string& path() const { return dev_; }
    const std::string& backing() const { return backing_; }

private:
    LoopDevice(std::string dev, std::string backing) : dev_(std::move(dev)), backing_(std::move(backing)) {}
    std::string dev_, backing_;
};

// A tmpfs of a few pages, to run out of space on.
class TmpfsMount {
public:
    static std::optional<TmpfsMount> create(const fs::path& dir, const std::string& size);
    TmpfsMount(TmpfsMount&& o) noexcept : dir_(std::move(o.dir_)) { o.dir_.clear(); }
    ~TmpfsMount();
    const fs::path& dir() const { return dir_; }

private:
    explicit TmpfsMount(fs::path dir) : dir_(std::move(dir)) {}
    fs::path dir_;
};

bool running_as_root();
std::string plugin_dir();

}  // namespace nvmfd::test_uring
