// A namespace of a drive driven through VFIO, as an nvmfd namespace: what
// it reports (from the drive's Identify data, truthfully: a Flush that does
// something only with a volatile write cache, Write Zeroes and Deallocate
// only when the drive has them), what to persist, and a channel per
// reactor on that reactor's queue pair.
#pragma once

#include <functional>
#include <memory>

#include "core/plugin/backend.hpp"
#include "plugins/backend_pcie/controller.hpp"
#include "plugins/backend_pcie/io_plan.hpp"
#include "plugins/backend_pcie/pcie_options.hpp"

namespace nvmfd::plugins::pcie {

class PcieDevice final : public plugin::BlockDevice {
public:
    // `on_close` runs when the device goes (the backend forgets the namespace).
    PcieDevice(std::shared_ptr<Controller> controller, PcieOptions options, DriveNamespace ns,
               std::function<void()> on_close);
    ~PcieDevice() override;

    plugin::DeviceInfo info() const override;
    std::unique_ptr<plugin::IoChannel> create_channel(runtime::Reactor& reactor) override;
    plugin::Params persistent_params() const override;
    std::string describe() const override;
    std::optional<plugin::DeviceHealth> health() const override;
    void watch_health(std::function<void()> changed) override;

private:
    std::shared_ptr<Controller> controller_;
    PcieOptions options_;
    DriveNamespace ns_;
    DriveShape shape_;
    std::function<void()> on_close_;
};

}  // namespace nvmfd::plugins::pcie
