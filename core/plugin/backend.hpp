// The backend plugin interface: a Backend opens BlockDevices (one per
// namespace) from parameters; a BlockDevice hands each reactor its own
// IoChannel, so that I/O is submitted and completed on the reactor that owns
// the queue pair (no locks, no thread hops).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <sys/uio.h>

#include "core/plugin/params.hpp"
#include "core/runtime/error.hpp"

namespace nvmfd::runtime { class Reactor; }

namespace nvmfd::plugin {

enum class IoOp : uint8_t { Read, Write, Flush, WriteZeroes, Deallocate };

enum class IoStatus : uint8_t {
    Ok,
    InvalidRange,   // beyond the end of the device
    ReadError,      // EIO on read
    WriteFault,     // EIO on write, short write
    NoSpace,        // ENOSPC: thin provisioning exhausted
    NotSupported,   // the operation is not supported by this device
    Aborted,
    Unavailable,    // the device is gone or being reset: the host may retry (Namespace Not Ready)
    DeviceStatus,   // the device's own NVMe status, in BlockIo::device_status
};

const char* io_status_name(IoStatus s);
const char* io_op_name(IoOp op);

struct ByteRange {
    uint64_t offset;
    uint64_t length;
};

// One backend operation. The core fills it, the backend completes it by
// calling on_complete on the same reactor thread that submitted it (possibly
// from inside submit()).
struct BlockIo {
    IoOp op = IoOp::Read;
    bool fua = false;
    uint64_t offset = 0;  // bytes
    uint64_t length = 0;  // bytes
    iovec* iov = nullptr;  // Read: destination, Write: source
    uint32_t iov_count = 0;
    const ByteRange* ranges = nullptr;  // Deallocate
    uint32_t range_count = 0;
    // Read with provides_read_buffers: the backend points iov at its own
    // memory (zero copy) using this slot.
    iovec backend_iov{};
    IoStatus status = IoStatus::Ok;
    int error_number = 0;  // errno behind a failure, for logs and the error log page
    // With IoStatus::DeviceStatus: the status the host gets, as a
    // proto::Status value (SCT << 8 | SC, DNR in bit 14); backends that
    // drive NVMe devices pass the device's verdict through (translated).
    uint16_t device_status = 0;
    void (*on_complete)(BlockIo&) = nullptr;
    void* owner = nullptr;

    void complete(IoStatus s, int err = 0) {
        status = s;
        error_number = err;
        on_complete(*this);
    }
    void complete_with_device_status(uint16_t nvme_status) {
        device_status = nvme_status;
        complete(IoStatus::DeviceStatus);
    }
};

struct DeviceInfo {
    uint32_t block_size = 512;
    uint64_t num_blocks = 0;
    uint32_t max_transfer_bytes = 0;  // 0 = no backend limit
    uint32_t optimal_io_boundary = 0;  // bytes, 0 = none
    bool volatile_write_cache = false;  // Flush does something
    bool write_zeroes = true;
    bool deallocate = false;
    bool deallocated_reads_zero = false;
    bool provides_read_buffers = false;  // Read may leave iov empty; backend supplies memory
    bool read_only = false;
};

// What a device knows of its own health: a drive's SMART / Health log.
// The core merges it into the SMART log hosts read and tells hosts when
// a critical warning comes on (docs/architecture.md, "Device health").
struct DeviceHealth {
    // SMART critical warning bits (NVMe base spec, SMART / Health log byte
    // 0): 0 spare below threshold, 1 temperature, 2 reliability degraded,
    // 3 read only, 4 volatile memory backup failed, 5 PMR read only.
    uint8_t critical_warning = 0;
    uint16_t temperature_kelvin = 0;  // 0: no sensor
    uint8_t available_spare = 100;    // percent
    uint8_t available_spare_threshold = 0;
    uint8_t percentage_used = 0;      // of the rated life; may exceed 100
    uint64_t media_errors = 0;        // the device's own count

    bool operator==(const DeviceHealth&) const = default;
};

// One per (device, reactor). submit() is called on its reactor only; the
// channel may be destroyed on any thread, but only with no I/O in flight.
class IoChannel {
public:
    virtual ~IoChannel() = default;
    virtual void submit(BlockIo& io) = 0;
};

class BlockDevice {
public:
    virtual ~BlockDevice() = default;
    virtual DeviceInfo info() const = 0;
    // Called on the reactor's own thread, once per reactor that uses the device.
    virtual std::unique_ptr<IoChannel> create_channel(runtime::Reactor& reactor) = 0;
    // Grow or shrink to new_size bytes (a multiple of the block size).
    virtual Result<void> resize(uint64_t /*new_size*/) {
        return make_error(ErrorCode::NotSupported, "this backend cannot resize namespaces");
    }
    // The memory reads are lent from (provides_read_buffers), for the
    // transports that register memory with their hardware (RDMA) and then
    // send read data from it without a copy; empty: the device lends none.
    // Registering pins pages, so once this is called the device keeps every
    // page of the range in place until it is destroyed: it zeroes memory
    // instead of handing pages back to the kernel (a page swapped for a
    // fresh one, as MADV_DONTNEED does, would leave the hardware sending the
    // old one). Called again after a resize: the range may grow, never move.
    // Control thread.
    virtual std::span<const std::byte> pin_lent_memory() { return {}; }
    // The device's health when it has one (a drive's), else nullopt. Any
    // thread; cheap: what the device last learned, no I/O.
    virtual std::optional<DeviceHealth> health() const { return std::nullopt; }
    // `changed` is called, on any thread, whenever health() changes; set
    // once by the core after open(). The device stops calling it before it
    // is destroyed.
    virtual void watch_health(std::function<void()> /*changed*/) {}
    // Parameters that reopen the same device after a restart (e.g. a path);
    // persisted in the state file.
    virtual Params persistent_params() const = 0;
    // One line for logs and status, e.g. "malloc 1 GiB" or "/srv/db1.img (O_DIRECT)".
    virtual std::string describe() const = 0;
};

class Backend {
public:
    virtual ~Backend() = default;
    virtual std::string_view name() const = 0;
    virtual Result<std::unique_ptr<BlockDevice>> open(const Params& params) = 0;
    // The checks open() makes on params, without opening, creating or
    // allocating anything: what a dry run (`nvmfctl policy test`) needs so
    // that it refuses exactly what a real add would. Errors name the
    // parameter like open()'s.
    virtual Result<void> check(const Params& params) const = 0;
};

}  // namespace nvmfd::plugin
