#include "plugins/backend_nvmet/nvmet_kernel_target.hpp"

#include "core/runtime/log.hpp"
#include "plugins/backend_nvmet/nvmet_reconcile.hpp"
#include "plugins/transport_fc/fc_address.hpp"

namespace nvmfd::plugins::nvmet {
namespace {

// A port as nvmet takes and shows it: an FC port's address checked and
// written in nvmet's spelling.
Result<plugin::KernelPort> port_for_nvmet(plugin::KernelPort p) {
    if (p.trtype != "fc") return p;
    auto a = fc::parse_fc_address(p.traddr, "address");
    if (!a) {
        Error err = a.error();
        err.message = fmt::format("port {}: {}", p.id, err.message);
        return nvmfd::unexpected(std::move(err));
    }
    p.traddr = fc::format_fc_address(*a);
    p.adrfam = "fc";
    p.trsvcid.clear();
    return p;
}

Result<plugin::KernelExport> for_nvmet(plugin::KernelExport e) {
    for (auto& p : e.ports) {
        auto checked = port_for_nvmet(p);
        if (!checked) return nvmfd::unexpected(checked.error());
        p = std::move(*checked);
    }
    return e;
}

class NvmetKernelTarget final : public plugin::KernelTarget {
public:
    explicit NvmetKernelTarget(std::unique_ptr<Configfs> fs) : fs_(std::move(fs)) {}

    Result<plugin::KernelApplied> apply(const plugin::KernelExport& desired, const plugin::KernelScope& scope,
                                        bool allow_disruptive) override {
        auto want = for_nvmet(desired);
        if (!want) return nvmfd::unexpected(want.error());
        auto actual = read_kernel_export(*fs_);
        if (!actual) return nvmfd::unexpected(actual.error());
        NvmetPlan plan = plan_reconcile(*actual, *want, scope, {allow_disruptive});
        if (auto r = refusal(plan); !r) return nvmfd::unexpected(r.error());
        // Each write is logged before it is made: if the kernel refuses one,
        // the log shows what was done before it.
        for (const NvmetStep& step : plan.steps) {
            log::info("nvmet: {}", nvmet::describe(step));
            if (auto r = apply_steps(*fs_, {step}); !r) return nvmfd::unexpected(r.error());
        }
        return plugin::KernelApplied{plan.steps.size(), std::move(plan.held_back)};
    }

    Result<std::vector<std::string>> differences(const plugin::KernelExport& desired,
                                                 const plugin::KernelScope& scope) override {
        auto want = for_nvmet(desired);
        if (!want) return nvmfd::unexpected(want.error());
        auto actual = read_kernel_export(*fs_);
        if (!actual) return nvmfd::unexpected(actual.error());
        NvmetPlan plan = plan_reconcile(*actual, *want, scope, {false});
        std::vector<std::string> out;
        for (const NvmetStep& step : plan.steps) out.push_back("to do: " + nvmet::describe(step));
        for (std::string& line : plan.held_back) out.push_back(std::move(line));
        return out;
    }

    Result<plugin::KernelScope> objects() override {
        auto actual = read_kernel_export(*fs_);
        if (!actual) return nvmfd::unexpected(actual.error());
        plugin::KernelScope all;
        for (const auto& s : actual->subsystems) all.subsystems.insert(s.nqn);
        for (const auto& p : actual->ports) all.ports.insert(p.id);
        all.hosts.insert(actual->hosts.begin(), actual->hosts.end());
        return all;
    }

    Result<plugin::KernelPort> check_port(const plugin::KernelPort& port) override { return port_for_nvmet(port); }

    std::string describe() const override { return fmt::format("nvmet configfs at {}", fs_->root()); }

private:
    std::unique_ptr<Configfs> fs_;
};

}  // namespace

std::unique_ptr<plugin::KernelTarget> make_nvmet_kernel_target(std::unique_ptr<Configfs> fs) {
    return std::make_unique<NvmetKernelTarget>(std::move(fs));
}

}  // namespace nvmfd::plugins::nvmet
