// The control API for kernel-served exports (docs/kernel-offload.md): the
// subsystems and ports whose data path is the kernel's are written into the
// kernel's target by a KernelTarget plugin (nvmfd-kernel-nvmet.so) before
// the state file records them, and made equal to the state at start.
#include <nlohmann/json.hpp>

#include "core/control/control.hpp"
#include "core/control/control_helpers.hpp"
#include "core/control/data_path_rules.hpp"
#include "core/control/kernel_export.hpp"
#include "core/runtime/log.hpp"

namespace nvmfd::control {

using namespace detail;

namespace {

constexpr const char* kKernelTargetPlugin = "nvmet";

// Next to the state file: every kernel object nvmfd may have written,
// recorded before it writes them. A crash between the kernel's change and
// the state file's leaves objects the state does not name; this is how the
// next start still knows they are nvmfd's to remove.
std::filesystem::path kernel_scope_path_for(const std::filesystem::path& state_file) {
    auto p = state_file;
    p.replace_filename(state_file.stem().string() + ".kernel-scope.json");
    return p;
}

void merge(plugin::KernelScope& into, const plugin::KernelScope& from) {
    into.subsystems.insert(from.subsystems.begin(), from.subsystems.end());
    into.ports.insert(from.ports.begin(), from.ports.end());
    into.hosts.insert(from.hosts.begin(), from.hosts.end());
}

}  // namespace

Result<plugin::KernelTarget*> Control::kernel_target() {
    if (kernel_) return kernel_.get();
    Result<std::unique_ptr<plugin::KernelTarget>> made = nullptr;
    if (options_.kernel_target_factory) {
        made = options_.kernel_target_factory();
    } else {
        auto loaded = plugins_.load(plugin::PluginKind::KernelTarget, kKernelTargetPlugin);
        if (!loaded) return nvmfd::unexpected(Error{loaded.error().code, loaded.error().message, "data_path"});
        made = (*loaded)->descriptor->create_kernel_target(options_.kernel_params);
    }
    if (!made) return nvmfd::unexpected(Error{made.error().code, made.error().message, "data_path"});
    kernel_ = std::move(*made);
    log::info("kernel data path: {}", kernel_->describe());
    return kernel_.get();
}

Result<void> Control::sync_kernel(const plugin::KernelExport& desired, const plugin::KernelScope& scope,
                                  bool allow_disruptive) {
    plugin::KernelTarget* k;
    {
        auto r = kernel_target();
        if (!r) return nvmfd::unexpected(r.error());
        k = *r;
    }
    auto applied = k->apply(desired, scope, allow_disruptive);
    if (!applied) {
        refresh_kernel_drift();
        return nvmfd::unexpected(applied.error());
    }
    if (applied->changes) log::info("kernel data path: {} change(s) made", applied->changes);
    for (const auto& line : applied->held_back) log::notice("kernel data path: held back: {}", line);
    refresh_kernel_drift();
    return {};
}

void Control::refresh_kernel_drift() {
    kernel_drift_.clear();
    if (!kernel_) return;
    plugin::KernelScope scope = kernel_scope(kernel_wanted_, kernel_wanted_);
    merge(scope, recorded_kernel_scope());
    auto lines = kernel_->differences(kernel_wanted_, scope);
    if (!lines) kernel_drift_.push_back("cannot read the kernel's configuration: " + lines.error().describe());
    else kernel_drift_ = std::move(*lines);
}

plugin::KernelScope Control::recorded_kernel_scope() const {
    if (kernel_scope_record_) return *kernel_scope_record_;
    plugin::KernelScope scope;
    if (!store_) return scope;
    StateStore file(kernel_scope_path_for(store_->path()));
    auto text = file.read();
    if (text && *text) {
        auto j = nlohmann::json::parse(**text, nullptr, false);
        try {
            for (const auto& s : j.at("subsystems")) scope.subsystems.insert(s.get<std::string>());
            for (const auto& p : j.at("ports")) scope.ports.insert(p.get<uint16_t>());
            for (const auto& h : j.at("hosts")) scope.hosts.insert(h.get<std::string>());
        } catch (const nlohmann::json::exception& e) {
            log::warn("{} is unreadable ({}); only the state file's kernel objects are nvmfd's",
                      file.path().string(), printable(e.what()));
            scope = {};
        }
    }
    kernel_scope_record_ = scope;
    return scope;
}

Result<void> Control::record_kernel_scope(const plugin::KernelScope& scope) {
    if (!store_) return {};
    nlohmann::json j{{"subsystems", scope.subsystems}, {"ports", scope.ports}, {"hosts", scope.hosts}};
    auto path = kernel_scope_path_for(store_->path());
    if (auto w = StateStore::write_atomically(path, j.dump(2) + "\n"); !w)
        return make_error(ErrorCode::Io, fmt::format("the change was not made: {}", w.error().message));
    kernel_scope_record_ = scope;
    return {};
}

namespace {

plugin::KernelScope minus(plugin::KernelScope a, const plugin::KernelScope& b) {
    for (const auto& n : b.subsystems) a.subsystems.erase(n);
    for (uint16_t id : b.ports) a.ports.erase(id);
    for (const auto& h : b.hosts) a.hosts.erase(h);
    return a;
}

plugin::KernelScope both_in(const plugin::KernelScope& a, const plugin::KernelScope& b) {
    plugin::KernelScope out;
    for (const auto& n : a.subsystems)
        if (b.subsystems.count(n)) out.subsystems.insert(n);
    for (uint16_t id : a.ports)
        if (b.ports.count(id)) out.ports.insert(id);
    for (const auto& h : a.hosts)
        if (b.hosts.count(h)) out.hosts.insert(h);
    return out;
}

}  // namespace

// What nvmfd has, or may have, written to the kernel: its wanted export and
// what the record names (objects a crash left behind).
plugin::KernelScope Control::kernel_objects_of_ours() const {
    plugin::KernelScope ours = kernel_scope(kernel_wanted_, kernel_wanted_);
    merge(ours, recorded_kernel_scope());
    return ours;
}

Result<plugin::KernelScope> Control::change_kernel(const plugin::KernelExport& desired, const plugin::KernelScope& scope) {
    plugin::KernelTarget* k;
    {
        auto r = kernel_target();  // without one, the error says why
        if (!r) return nvmfd::unexpected(r.error());
        k = *r;
    }
    auto present = k->objects();
    if (!present) return nvmfd::unexpected(present.error());
    const plugin::KernelScope ours = kernel_objects_of_ours();
    // A port is never taken over: the admin's port may serve subsystems nvmfd
    // does not manage. A subsystem or a host entry of the same name is
    // adopted (docs/kernel-offload.md), but not removed again if the change fails.
    for (const auto& p : desired.ports)
        if (!ours.ports.count(p.id) && present->ports.count(p.id))
            return make_error(ErrorCode::Busy,
                              fmt::format("port {} exists in the kernel's configuration, made outside nvmfd; choose "
                                          "another id, or remove that port with nvmetcli",
                                          p.id),
                              "id");
    const plugin::KernelScope adopted = both_in(minus(kernel_scope(desired, desired), ours), *present);
    plugin::KernelScope widened = ours;
    merge(widened, kernel_scope(desired, desired));
    TRY(record_kernel_scope(widened));
    auto synced = sync_kernel(desired, scope, true);
    if (synced) return adopted;
    // The kernel refused part of it: write back what the state file still says.
    if (auto back = sync_kernel(kernel_wanted_, minus(scope, adopted), true); !back)
        log::error("kernel data path: after the kernel's refusal, the previous configuration could not be restored: {}",
                   back.error().describe());
    if (auto r = record_kernel_scope(ours); !r) log::warn("kernel data path: {}", r.error().describe());
    return nvmfd::unexpected(synced.error());
}

Result<void> Control::persist(const ExportSpec& next) {
    TRY(check_data_paths(next));
    plugin::KernelExport desired = kernel_export(next);
    if (options_.dry_run || desired == kernel_wanted_) return write_state(next);
    // Only the objects this change touches may be disturbed: drift held
    // back elsewhere stays held back (apply_kernel_drift is its own change).
    const plugin::KernelScope scope = changed_scope(kernel_wanted_, desired);
    auto adopted = change_kernel(desired, scope);
    if (!adopted) return nvmfd::unexpected(adopted.error());
    if (auto w = write_state(next); !w) {
        if (auto back = sync_kernel(kernel_wanted_, minus(scope, *adopted), true); !back)
            log::error("kernel data path: after a failed state file write, the previous configuration could not be "
                       "restored: {}",
                       back.error().describe());
        return nvmfd::unexpected(w.error());
    }
    kernel_wanted_ = std::move(desired);
    refresh_kernel_drift();
    forget_old_kernel_objects();
    return {};
}

// The record keeps the state's objects and, of the others it names, those
// the kernel still has (left by a crash, removed by `nvmfctl kernel apply`).
void Control::forget_old_kernel_objects() {
    if (!kernel_) return;
    auto present = kernel_->objects();
    if (!present) return;
    plugin::KernelScope keep = kernel_scope(kernel_wanted_, kernel_wanted_);
    merge(keep, both_in(recorded_kernel_scope(), *present));
    if (auto r = record_kernel_scope(keep); !r)
        log::warn("kernel data path: {}", r.error().describe());  // the wider record stays: harmless
}

Result<void> Control::start_kernel_export(const ExportSpec& spec, bool admin_change) {
    plugin::KernelExport desired = kernel_export(spec);
    plugin::KernelScope scope = kernel_scope(kernel_wanted_, desired);
    merge(scope, recorded_kernel_scope());
    offline_.erase("kernel data path");
    if (options_.dry_run || scope.empty()) {
        kernel_wanted_ = std::move(desired);
        return {};
    }
    if (admin_change) {
        // A restore: like a change, with everything either side names in scope.
        TRY(change_kernel(desired, scope));
        kernel_wanted_ = std::move(desired);
        refresh_kernel_drift();
        forget_old_kernel_objects();
        return {};
    }
    kernel_wanted_ = desired;
    if (auto synced = sync_kernel(desired, scope, false); !synced) {
        // At start the kernel goes on serving what it has; nvmfd says why it
        // could not make it equal to the state.
        std::string what = "kernel data path";
        log::error("{}: {}", what, synced.error().describe());
        offline_[what] = OfflineItem{what, synced.error().describe(), {}, 0, 0};
        return {};
    }
    forget_old_kernel_objects();
    return {};
}

std::vector<std::string> Control::kernel_drift() {
    std::lock_guard lock(mutex_);
    refresh_kernel_drift();  // nvmetcli may have changed the kernel meanwhile
    return kernel_drift_;
}

Result<void> Control::apply_kernel_drift() {
    std::lock_guard lock(mutex_);
    plugin::KernelScope scope = kernel_scope(kernel_wanted_, kernel_wanted_);
    merge(scope, recorded_kernel_scope());
    if (scope.empty()) return {};
    TRY(sync_kernel(kernel_wanted_, scope, true));
    offline_.erase("kernel data path");
    log::notice("kernel data path: made equal to the state at the administrator's request");
    forget_old_kernel_objects();
    return {};
}

}  // namespace nvmfd::control
