// What one uring namespace knows about the file or block device behind it.
// Filled once when the namespace is opened (device_open.cpp); shared by the
// BlockDevice and its per-reactor channels, so the descriptor stays open
// until the last channel has retired, even if a completion arrives after
// the namespace itself is gone.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <unistd.h>
#include <utility>

namespace nvmfd::plugins::uring {

class BlockingWorker;

class UniqueFd {
public:
    UniqueFd() = default;
    explicit UniqueFd(int fd) : fd_(fd) {}
    ~UniqueFd() { reset(); }
    UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    UniqueFd& operator=(UniqueFd&& o) noexcept {
        if (this != &o) {
            reset();
            fd_ = std::exchange(o.fd_, -1);
        }
        return *this;
    }
    int get() const { return fd_; }
    explicit operator bool() const { return fd_ >= 0; }
    void reset() {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }

private:
    int fd_ = -1;
};

enum class DirectMode : uint8_t { Auto, On, Off };

inline const char* direct_mode_name(DirectMode m) {
    return m == DirectMode::On ? "true" : m == DirectMode::Off ? "false" : "auto";
}

// How Write Zeroes is carried out; a device falls back along this list when
// the kernel says a method is not supported, and remembers the result.
enum class ZeroMethod : uint8_t {
    ZeroRange,  // fallocate(FALLOC_FL_ZERO_RANGE): files, and blkdev_issue_zeroout for block devices
    PunchHole,  // fallocate(FALLOC_FL_PUNCH_HOLE): files only; the range reads back as zeroes
    Write,      // plain writes from a zero-filled buffer
};

struct DeviceState {
    UniqueFd fd;
    std::string path;  // absolute
    bool block_device = false;
    bool read_only = false;
    bool direct = false;         // opened with O_DIRECT
    DirectMode direct_mode = DirectMode::Auto;  // as the admin asked
    std::string buffered_reason;  // why not O_DIRECT, when direct is false
    uint32_t block_size = 512;    // the namespace's LBA size
    uint32_t device_block_size = 512;  // block devices: logical block size; files: direct I/O alignment
    uint32_t optimal_io_boundary = 0;
    bool volatile_write_cache = true;
    bool deallocate = false;              // files: punch hole works; block devices: discard is supported
    bool deallocated_reads_zero = false;
    std::atomic<uint64_t> size{0};  // bytes exported, a multiple of block_size
    std::atomic<ZeroMethod> zero_method{ZeroMethod::ZeroRange};
    std::atomic<uint64_t> errors{0};  // I/O errors so far (logging is rate-limited by it)
    std::shared_ptr<BlockingWorker> worker;  // block devices: runs BLKDISCARD off the reactor
};

}  // namespace nvmfd::plugins::uring
