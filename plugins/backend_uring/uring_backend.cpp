// The uring backend: namespaces on block devices and regular files, served
// through one io_uring per reactor. See uring_channel.hpp for the command
// mapping and ring.hpp for how the ring sits in the reactor.
#include <cstring>
#include <liburing.h>

#include "core/plugin/abi.hpp"
#include "plugins/backend_uring/blocking_worker.hpp"
#include "plugins/backend_uring/device_open.hpp"
#include "plugins/backend_uring/uring_device.hpp"

namespace nvmfd::plugins::uring {
namespace {

// 0 when this process may set up an io_uring (it can be disabled by sysctl
// kernel.io_uring_disabled, seccomp or a container runtime), else errno.
int probe_io_uring() {
    io_uring ring;
    int r = io_uring_queue_init(2, &ring, 0);
    if (r < 0) return -r;
    io_uring_queue_exit(&ring);
    return 0;
}

class UringBackend final : public plugin::Backend {
public:
    std::string_view name() const override { return "uring"; }

    Result<void> check(const plugin::Params& params) const override {
        auto options = parse_options(params);
        if (!options) return nvmfd::unexpected(options.error());
        return check_device(*options);
    }

    Result<std::unique_ptr<plugin::BlockDevice>> open(const plugin::Params& params) override {
        auto options = parse_options(params);
        if (!options) return nvmfd::unexpected(options.error());
        if (int err = probe_io_uring())
            return make_error(ErrorCode::NotSupported,
                              fmt::format("io_uring is not available to nvmfd: {} (see sysctl kernel.io_uring_disabled)",
                                          std::strerror(err)));
        auto state = open_device(*options);
        if (!state) return nvmfd::unexpected(state.error());
        if ((*state)->block_device && (*state)->deallocate) (*state)->worker = worker_;
        return std::make_unique<UringDevice>(std::shared_ptr<DeviceState>(std::move(*state)));
    }

private:
    std::shared_ptr<BlockingWorker> worker_ = std::make_shared<BlockingWorker>();
};

std::unique_ptr<plugin::Backend> create(const plugin::Params&) { return std::make_unique<UringBackend>(); }

}  // namespace
}  // namespace nvmfd::plugins::uring

NVMFD_PLUGIN((nvmfd::plugin::PluginDescriptor{nvmfd::plugin::PluginKind::Backend, "uring",
                                              "namespaces on block devices and files, through io_uring", nullptr,
                                              nvmfd::plugins::uring::create}))
