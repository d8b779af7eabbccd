#include "plugins/backend_pcie/pcie_device.hpp"

#include "core/runtime/byte_size.hpp"
#include "core/runtime/log.hpp"
#include "plugins/backend_pcie/pcie_channel.hpp"

namespace nvmfd::plugins::pcie {

PcieDevice::PcieDevice(std::shared_ptr<Controller> controller, PcieOptions options, DriveNamespace ns,
                       std::function<void()> on_close)
    : controller_(std::move(controller)), options_(std::move(options)), ns_(ns), on_close_(std::move(on_close)) {
    const DriveController& id = controller_->identity();
    shape_.nsid = options_.nsid;
    shape_.block_size = ns_.block_size;
    shape_.num_blocks = ns_.blocks;
    shape_.piece_bytes = controller_->max_transfer_bytes();
    shape_.volatile_write_cache = id.volatile_write_cache;
    shape_.write_zeroes = id.supports(oncs::kWriteZeroes);
    shape_.deallocate = id.supports(oncs::kDatasetManagement);
}

PcieDevice::~PcieDevice() {
    controller_->health().unwatch(this);
    if (on_close_) on_close_();
}

std::optional<plugin::DeviceHealth> PcieDevice::health() const { return controller_->health().current(); }

void PcieDevice::watch_health(std::function<void()> changed) { controller_->health().watch(this, std::move(changed)); }

plugin::DeviceInfo PcieDevice::info() const {
    plugin::DeviceInfo i;
    i.block_size = shape_.block_size;
    i.num_blocks = shape_.num_blocks;
    i.max_transfer_bytes = 0;  // larger transfers are split at the drive's MDTS
    i.volatile_write_cache = shape_.volatile_write_cache;
    i.write_zeroes = shape_.write_zeroes;
    i.deallocate = shape_.deallocate;
    i.deallocated_reads_zero = false;  // DLFEAT is not read yet: claim nothing
    return i;
}

std::unique_ptr<plugin::IoChannel> PcieDevice::create_channel(runtime::Reactor& reactor) {
    auto queue = QueuePair::of(reactor, controller_, options_.queue_depth, options_.io_timeout);
    if (!queue) {
        log::error("pcie {} nsid {}: reactor {} has no queue pair on the drive: {}", controller_->bdf(), options_.nsid,
                   reactor.id(), queue.error().describe());
        return std::make_unique<UnavailableChannel>();
    }
    return std::make_unique<PcieChannel>(std::move(*queue), shape_);
}

plugin::Params PcieDevice::persistent_params() const {
    return {{"device", options_.device},
            {"nsid", std::to_string(options_.nsid)},
            {"queue_depth", std::to_string(options_.queue_depth)},
            {"io_timeout_ms", std::to_string(options_.io_timeout.count())},
            {"interrupts", auto_on_off_name(options_.interrupts)},
            {"sgl", auto_on_off_name(options_.sgl)}};
}

std::string PcieDevice::describe() const {
    const DriveController& id = controller_->identity();
    const uint64_t bytes = ns_.blocks * ns_.block_size;
    return fmt::format("{} nsid {} ({} {}, {}, {}-byte blocks)", options_.device, options_.nsid, id.model, id.serial,
                       runtime::byte_size_text(bytes), ns_.block_size);
}

}  // namespace nvmfd::plugins::pcie
