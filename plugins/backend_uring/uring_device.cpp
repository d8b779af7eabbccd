#include "plugins/backend_uring/uring_device.hpp"

#include <cerrno>
#include <cstring>
#include <unistd.h>

#include "core/runtime/byte_size.hpp"
#include "core/runtime/log.hpp"
#include "plugins/backend_uring/ring.hpp"
#include "plugins/backend_uring/uring_channel.hpp"

namespace nvmfd::plugins::uring {

plugin::DeviceInfo UringDevice::info() const {
    const DeviceState& d = *state_;
    plugin::DeviceInfo i;
    i.block_size = d.block_size;
    i.num_blocks = d.size.load() / d.block_size;
    i.max_transfer_bytes = 0;  // long iovec lists are split by the channel
    i.optimal_io_boundary = d.optimal_io_boundary;
    i.volatile_write_cache = d.volatile_write_cache;
    i.write_zeroes = true;  // with a fallback down to writing zeroes
    i.deallocate = d.deallocate;
    i.deallocated_reads_zero = d.deallocate && d.deallocated_reads_zero;
    i.provides_read_buffers = false;
    i.read_only = d.read_only;
    return i;
}

std::unique_ptr<plugin::IoChannel> UringDevice::create_channel(runtime::Reactor& reactor) {
    auto ring = Ring::of(reactor);
    if (!ring) return std::make_unique<FailingChannel>(ENODEV);
    ChannelState& state = ring->add_channel(std::make_unique<ChannelState>(state_, *ring));
    return std::make_unique<UringChannel>(std::move(ring), state);
}

Result<void> UringDevice::resize(uint64_t new_size) {
    DeviceState& d = *state_;
    if (d.block_device)
        return make_error(ErrorCode::NotSupported,
                          fmt::format("{} is a block device: the namespace has the device's size (resize the device, "
                                      "then re-add the namespace)",
                                      d.path),
                          "size");
    if (d.read_only)
        return make_error(ErrorCode::InvalidArgument, "a read-only namespace cannot be resized", "size");
    if (new_size == 0 || new_size % d.block_size)
        return make_error(ErrorCode::InvalidArgument,
                          fmt::format("must be a non-zero multiple of the block size ({})", d.block_size), "size");
    if (::ftruncate(d.fd.get(), static_cast<off_t>(new_size)) != 0)
        return make_error(errno == EFBIG || errno == ENOSPC ? ErrorCode::InvalidArgument : ErrorCode::Io,
                          fmt::format("cannot resize {} to {} bytes: {}", d.path, new_size, std::strerror(errno)),
                          "size");
    uint64_t old = d.size.exchange(new_size);
    log::info("{}: resized from {} to {} bytes", d.path, old, new_size);
    return {};
}

plugin::Params UringDevice::persistent_params() const {
    // Never size or create: a restart reopens what exists and never
    // truncates or recreates it.
    const DeviceState& d = *state_;
    return {{"path", d.path},
            {"block_size", std::to_string(d.block_size)},
            {"direct", direct_mode_name(d.direct_mode)},
            {"read_only", d.read_only ? "true" : "false"}};
}

std::string UringDevice::describe() const {
    const DeviceState& d = *state_;
    return fmt::format("{} ({}, {}, {}-byte blocks, {}{})", d.path, d.block_device ? "block device" : "file",
                       runtime::byte_size_text(d.size.load()), d.block_size,
                       d.direct                             ? std::string("O_DIRECT")
                       : d.direct_mode == DirectMode::Off ? std::string("buffered")
                                                          : fmt::format("buffered: {}", d.buffered_reason),
                       d.read_only ? ", read-only" : "");
}

}  // namespace nvmfd::plugins::uring
