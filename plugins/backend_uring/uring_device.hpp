// A namespace served from a file or block device through io_uring: the
// control-plane side (capabilities, resize, what to persist). The data path
// is in uring_channel.*, one channel per reactor.
#pragma once

#include <memory>

#include "core/plugin/backend.hpp"
#include "plugins/backend_uring/device_state.hpp"

namespace nvmfd::plugins::uring {

class UringDevice final : public plugin::BlockDevice {
public:
    explicit UringDevice(std::shared_ptr<DeviceState> state) : state_(std::move(state)) {}

    plugin::DeviceInfo info() const override;
    std::unique_ptr<plugin::IoChannel> create_channel(runtime::Reactor& reactor) override;
    Result<void> resize(uint64_t new_size) override;
    plugin::Params persistent_params() const override;
    std::string describe() const override;

private:
    std::shared_ptr<DeviceState> state_;
};

}  // namespace nvmfd::plugins::uring
