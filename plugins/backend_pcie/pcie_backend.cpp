// The pcie backend (issue 13): namespaces of NVMe drives that nvmfd drives
// itself through VFIO. Drives are opened once however many namespaces use
// them (a registry by PCI address); a drive namespace is served as one
// nvmfd namespace at a time.
#include <map>
#include <mutex>
#include <set>

#include "core/plugin/abi.hpp"
#include "plugins/backend_pcie/pcie_device.hpp"

namespace nvmfd::plugins::pcie {
namespace {

// Open drives by PCI address, and the drive namespaces in use.
struct Registry {
    std::mutex mutex;
    std::map<std::string, std::weak_ptr<Controller>> controllers;
    std::set<std::pair<std::string, uint32_t>> namespaces;
};

class PcieBackend final : public plugin::Backend {
public:
    std::string_view name() const override { return "pcie"; }

    Result<void> check(const plugin::Params& params) const override {
        auto options = parse_pcie_options(params);
        if (!options) return nvmfd::unexpected(options.error());
        return {};
    }

    Result<std::unique_ptr<plugin::BlockDevice>> open(const plugin::Params& params) override {
        auto options = parse_pcie_options(params);
        if (!options) return nvmfd::unexpected(options.error());
        const auto key = std::make_pair(options->device, options->nsid);
        std::lock_guard lock(registry_->mutex);
        if (registry_->namespaces.contains(key))
            return make_error(ErrorCode::AlreadyExists,
                              fmt::format("{} namespace {} is already served by another nvmfd namespace",
                                          options->device, options->nsid),
                              "nsid");
        auto controller = registry_->controllers[options->device].lock();
        if (controller) {
            if (auto ok = controller->accepts(options->interrupts, options->sgl); !ok)
                return nvmfd::unexpected(ok.error());
        } else {
            auto opened = Controller::open(options->device, options->interrupts, options->sgl);
            if (!opened) return nvmfd::unexpected(opened.error());
            controller = *opened;
            registry_->controllers[options->device] = controller;
        }
        auto ns = controller->identify_namespace(options->nsid);
        if (!ns) return nvmfd::unexpected(ns.error());
        registry_->namespaces.insert(key);
        auto forget = [registry = registry_, key] {
            std::lock_guard l(registry->mutex);
            registry->namespaces.erase(key);
        };
        return std::make_unique<PcieDevice>(std::move(controller), std::move(*options), *ns, std::move(forget));
    }

private:
    std::shared_ptr<Registry> registry_ = std::make_shared<Registry>();
};

std::unique_ptr<plugin::Backend> create(const plugin::Params&) { return std::make_unique<PcieBackend>(); }

}  // namespace
}  // namespace nvmfd::plugins::pcie

NVMFD_PLUGIN((nvmfd::plugin::PluginDescriptor{nvmfd::plugin::PluginKind::Backend, "pcie",
                                              "namespaces of NVMe drives driven from user space through VFIO", nullptr,
                                              nvmfd::plugins::pcie::create}))
