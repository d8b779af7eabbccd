#include "dbus/manager.hpp"

#include <nlohmann/json.hpp>

#include "core/control/config_document.hpp"
#include "core/runtime/log.hpp"
#include "core/target/ana.hpp"
#include "dbus/call_options.hpp"
#include "dbus/caller_file.hpp"
#include "dbus/errors.hpp"
#include "dbus/names.hpp"

namespace nvmfd::dbus {

ManagerObject::ManagerObject(sdbus::IConnection& connection, control::Control& control, AdminAccess& access,
                             ManagerInfo info, std::function<void()> changed)
    : AdaptorInterfaces(connection, kRootPath),
      control_(control),
      access_(access),
      info_(std::move(info)),
      changed_(std::move(changed)) {
    registerAdaptor();
}

ManagerObject::~ManagerObject() { unregisterAdaptor(); }

void ManagerObject::update(std::vector<uint32_t> ana_groups,
                           std::vector<sdbus::Struct<std::string, std::string>> offline,
                           std::vector<std::string> kernel_drift) {
    std::vector<std::string> names;
    if (ana_groups != ana_groups_) names.emplace_back("AnaGroups");
    if (offline != offline_) names.emplace_back("Offline");
    if (kernel_drift != kernel_drift_) names.emplace_back("KernelDrift");
    ana_groups_ = std::move(ana_groups);
    offline_ = std::move(offline);
    kernel_drift_ = std::move(kernel_drift);
    if (!names.empty()) getObject().emitPropertiesChangedSignal(org::nvmfd::Manager1_adaptor::INTERFACE_NAME, names);
}

void ManagerObject::authorize(std::string_view action) {
    const sdbus::Message* msg = getObject().getCurrentlyProcessedMessage();
    if (!msg) throw to_dbus_error(Error{ErrorCode::Internal, "no call in progress", {}});
    auto ok = access_.check(msg->getSender(), action);
    if (!ok) {
        log::notice("D-Bus: refused a call from {}: {}", msg->getSender(), ok.error().message);
        throw to_dbus_error(ok.error());
    }
}

template <typename F>
auto ManagerObject::mutate(F&& f) -> decltype(f()) {
    try {
        authorize();
        if constexpr (std::is_void_v<decltype(f())>) {
            f();
            changed_();
        } else {
            auto result = f();
            changed_();
            return result;
        }
    } catch (const sdbus::Error&) {
        throw;
    } catch (const std::exception& e) {
        // Never let an exception unwind through sd-bus's C code.
        throw to_dbus_error(Error{ErrorCode::Internal, e.what(), {}});
    }
}

template <typename F>
auto ManagerObject::admin_read(std::string_view what, F&& f) -> decltype(f()) {
    try {
        authorize(what);
        return f();
    } catch (const sdbus::Error&) {
        throw;
    } catch (const std::exception& e) {
        throw to_dbus_error(Error{ErrorCode::Internal, e.what(), {}});
    }
}

sdbus::ObjectPath ManagerObject::AddSubsystem(const std::string& nqn, const Options& options) {
    return mutate([&] {
        auto settings = value_or_throw(subsystem_settings(options, SubsystemCall::Add));
        value_or_throw(control_.add_subsystem(nqn, settings));
        return sdbus::ObjectPath(subsystem_path(nqn));
    });
}

void ManagerObject::SetSubsystem(const std::string& nqn, const Options& options) {
    mutate([&] {
        auto settings = value_or_throw(subsystem_settings(options, SubsystemCall::Set));
        value_or_throw(control_.set_subsystem(nqn, settings));
    });
}

void ManagerObject::RemoveSubsystem(const std::string& nqn, const bool& force) {
    mutate([&] { value_or_throw(control_.remove_subsystem(nqn, force)); });
}

void ManagerObject::AllowHost(const std::string& nqn, const std::string& host_nqn) {
    mutate([&] { value_or_throw(control_.allow_host(nqn, host_nqn)); });
}

void ManagerObject::AllowHostWithKeys(const std::string& nqn, const std::string& host_nqn, const Options& keys) {
    mutate([&] {
        auto update = value_or_throw(host_key_update(keys, nullptr));
        value_or_throw(control_.allow_host(nqn, host_nqn, update));
    });
}

void ManagerObject::SetHostKeys(const std::string& nqn, const std::string& host_nqn, const Options& keys) {
    mutate([&] {
        bool disconnect = false;
        auto update = value_or_throw(host_key_update(keys, &disconnect));
        value_or_throw(control_.set_host_keys(nqn, host_nqn, update, disconnect));
    });
}

// Admins only: which hosts must authenticate is itself worth hiding.
Options ManagerObject::GetHostKeys(const std::string& nqn, const std::string& host_nqn) {
    return admin_read("see which hosts must authenticate", [&] {
        auto k = value_or_throw(control_.host_keys(nqn, host_nqn));
        Options out;
        out["dhchap-secret"] = sdbus::Variant(k.dhchap_secret);
        out["dhchap-ctrl-secret"] = sdbus::Variant(k.dhchap_ctrl_secret);
        out["tls-psk"] = sdbus::Variant(k.tls_psk);
        out["missing"] = sdbus::Variant(k.missing);
        out["dhchap-digests"] = sdbus::Variant(k.dhchap_digests);
        out["dhchap-groups"] = sdbus::Variant(k.dhchap_groups);
        return out;
    });
}

void ManagerObject::DisallowHost(const std::string& nqn, const std::string& host_nqn) {
    mutate([&] { value_or_throw(control_.disallow_host(nqn, host_nqn)); });
}

std::tuple<uint32_t, sdbus::ObjectPath> ManagerObject::AddNamespace(const std::string& nqn,
                                                                    const std::string& backend,
                                                                    const std::map<std::string, std::string>& params,
                                                                    const Options& options) {
    return mutate([&] {
        control::NamespaceSettings settings;
        settings.backend = backend;
        settings.params = plugin::Params(params.begin(), params.end());
        value_or_throw(read_namespace_options(options, settings));
        uint32_t nsid = value_or_throw(control_.add_namespace(nqn, settings));
        return std::tuple<uint32_t, sdbus::ObjectPath>(nsid, sdbus::ObjectPath(namespace_path(nqn, nsid)));
    });
}

void ManagerObject::RemoveNamespace(const std::string& nqn, const uint32_t& nsid) {
    mutate([&] { value_or_throw(control_.remove_namespace(nqn, nsid)); });
}

void ManagerObject::ResizeNamespace(const std::string& nqn, const uint32_t& nsid, const uint64_t& size_bytes) {
    mutate([&] { value_or_throw(control_.resize_namespace(nqn, nsid, size_bytes)); });
}

void ManagerObject::SetNamespaceVisibility(const std::string& nqn, const uint32_t& nsid,
                                           const std::vector<std::string>& hosts) {
    mutate([&] { value_or_throw(control_.set_namespace_visibility(nqn, nsid, hosts)); });
}

void ManagerObject::SetNamespaceAnaGroup(const std::string& nqn, const uint32_t& nsid, const uint32_t& group) {
    mutate([&] { value_or_throw(control_.set_namespace_ana_group(nqn, nsid, group)); });
}

std::tuple<uint16_t, sdbus::ObjectPath> ManagerObject::AddPort(const std::string& transport,
                                                               const std::string& address,
                                                               const std::string& service, const Options& options) {
    return mutate([&] {
        control::PortSettings settings;
        settings.transport = transport;
        settings.address = address;
        settings.service = service;
        value_or_throw(read_port_options(options, settings));
        uint16_t id = value_or_throw(control_.add_port(settings));
        return std::tuple<uint16_t, sdbus::ObjectPath>(id, sdbus::ObjectPath(port_path(id)));
    });
}

void ManagerObject::RemovePort(const uint16_t& id, const bool& force) {
    mutate([&] { value_or_throw(control_.remove_port(id, force)); });
}

void ManagerObject::LinkSubsystem(const uint16_t& port, const std::string& nqn) {
    mutate([&] { value_or_throw(control_.link_subsystem(port, nqn)); });
}

void ManagerObject::UnlinkSubsystem(const uint16_t& port, const std::string& nqn, const bool& force) {
    mutate([&] { value_or_throw(control_.unlink_subsystem(port, nqn, force)); });
}

void ManagerObject::AddAnaGroup(const uint32_t& group) {
    mutate([&] { value_or_throw(control_.add_ana_group(group)); });
}

void ManagerObject::RemoveAnaGroup(const uint32_t& group) {
    mutate([&] { value_or_throw(control_.remove_ana_group(group)); });
}

void ManagerObject::SetAnaState(const uint16_t& port, const uint32_t& group, const std::string& state) {
    mutate([&] {
        auto parsed = target::parse_ana_state(state);
        if (!parsed)
            throw to_dbus_error(Error{ErrorCode::InvalidArgument,
                                      fmt::format("'{}' is not one of optimized, non-optimized, inaccessible, "
                                                  "persistent-loss, change",
                                                  state),
                                      "state"});
        value_or_throw(control_.set_ana_state(port, group, *parsed));
    });
}

// Returns the differences it set out to remove (KernelDrift before the call).
std::vector<std::string> ManagerObject::ApplyKernelChanges() {
    return mutate([&] {
        auto drift = control_.kernel_drift();
        value_or_throw(control_.apply_kernel_drift());
        return drift;
    });
}

void ManagerObject::DisconnectController(const std::string& nqn, const uint16_t& cntlid) {
    mutate([&] { value_or_throw(control_.disconnect_controller(nqn, cntlid)); });
}

// Admins only: the whole configuration names every allowed host, backing
// file and policy source (never a secret: those are not in it at all).
std::string ManagerObject::ExportConfig() {
    return admin_read("read the whole configuration (hosts, files, policies): ExportConfig",
                      [&] { return control_.state_json(); });
}

// Admins only, and the secrets go into the caller's own file, never into a
// D-Bus message (a monitor or a log of the bus never sees them).
void ManagerObject::ExportConfigWithSecrets(const sdbus::UnixFd& file) {
    admin_read("read hosts' secrets: ExportConfigWithSecrets",
               [&] { value_or_throw(write_whole_file(file.get(), control_.state_json_with_secrets(), "file")); });
}

void ManagerObject::RestoreConfig(const std::string& json, const bool& force) {
    mutate([&] {
        nlohmann::json j;
        try {
            j = nlohmann::json::parse(json);
        } catch (const nlohmann::json::exception& e) {
            throw to_dbus_error(Error{ErrorCode::InvalidArgument, fmt::format("not valid JSON: {}", e.what()), "json"});
        }
        auto spec = value_or_throw(control::config_from_json(j));
        value_or_throw(control_.restore(spec, force));
    });
}

control::PolicyService& ManagerObject::policies() {
    if (!info_.policies)
        throw to_dbus_error(Error{ErrorCode::NotSupported, "this nvmfd runs without the policy engine", {}});
    return *info_.policies;
}

namespace {

ManagerObject::PolicyRecord to_record(const control::PolicyInfo& p) {
    return {p.name, p.file, p.params, p.handlers, p.calls, p.errors, p.last_error, uint64_t(p.memory_bytes)};
}

}  // namespace

void ManagerObject::LoadPolicy(const std::string& name, const std::string& source, const std::string& file,
                               const std::map<std::string, std::string>& params) {
    mutate([&] { value_or_throw(policies().load(name, source, file, params)); });
}

void ManagerObject::UnloadPolicy(const std::string& name) {
    mutate([&] { value_or_throw(policies().unload(name)); });
}

// Reads of policies (their sources and parameters): admins only, like ExportConfig.
std::vector<ManagerObject::PolicyRecord> ManagerObject::ListPolicies() {
    return admin_read("read the policies", [&] {
        std::vector<PolicyRecord> out;
        for (const auto& p : policies().list()) out.push_back(to_record(p));
        return out;
    });
}

std::tuple<ManagerObject::PolicyRecord, std::string> ManagerObject::ShowPolicy(const std::string& name) {
    return admin_read("read the policies", [&] {
        auto info = value_or_throw(policies().show(name));
        std::string source;
        for (const auto& p : control_.export_spec().policies)
            if (p.name == name) source = p.source;
        return std::tuple<PolicyRecord, std::string>{to_record(info), source};
    });
}

// Drain and Resume change no state of the control API themselves (the
// policies do, through it): they are mutations all the same, for admins only.
std::vector<std::string> ManagerObject::Drain() {
    return mutate([&] { return value_or_throw(policies().set_draining(true)); });
}

std::vector<std::string> ManagerObject::Resume() {
    return mutate([&] { return value_or_throw(policies().set_draining(false)); });
}

std::map<std::string, std::string> ManagerObject::ProvisionNamespace(const std::string& template_name,
                                                                   const std::map<std::string, std::string>& args) {
    return mutate([&] { return value_or_throw(policies().provision(template_name, args)); });
}

// Changes nothing, but runs a caller's script in the daemon: admins only,
// like LoadPolicy.
std::string ManagerObject::TestPolicy(const std::string& source, const std::string& file,
                                      const std::map<std::string, std::string>& params, const std::string& event,
                                      const std::string& args_json) {
    return mutate([&] { return value_or_throw(policies().test({source, file, params, event, args_json})); });
}

}  // namespace nvmfd::dbus
