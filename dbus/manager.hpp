// org.nvmfd.Manager1 at /org/nvmfd, with org.freedesktop.DBus.ObjectManager:
// each method checks the caller (mutating ones only), calls the one control
// API and turns its typed error into org.nvmfd.Error.<Code>. After a change
// it calls `changed` so that the object tree follows before the reply goes
// out: a client that reads right after its call sees its change.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include <sdbus-c++/sdbus-c++.h>

#include "core/control/control.hpp"
#include "core/control/policy_service.hpp"
#include "dbus/access.hpp"
#include "dbus/generated/Manager1_adaptor.h"

namespace nvmfd::dbus {

struct ManagerInfo {
    std::string version;
    std::string state_file;  // empty: nothing persisted
    control::PolicyService* policies = nullptr;  // none: the policy methods say NotSupported
};

class ManagerObject final
    : public sdbus::AdaptorInterfaces<org::nvmfd::Manager1_adaptor, sdbus::ObjectManager_adaptor> {
public:
    ManagerObject(sdbus::IConnection& connection, control::Control& control, AdminAccess& access, ManagerInfo info,
                  std::function<void()> changed);
    ~ManagerObject();

    // A policy as ListPolicies/ShowPolicy return it: name, file, params,
    // handlers, calls, errors, last error, memory bytes.
    using PolicyRecord = sdbus::Struct<std::string, std::string, std::map<std::string, std::string>,
                                       std::vector<std::string>, uint64_t, uint64_t, std::string, uint64_t>;

    void update(std::vector<uint32_t> ana_groups, std::vector<sdbus::Struct<std::string, std::string>> offline,
                std::vector<std::string> kernel_drift);

private:
    using Options = std::map<std::string, sdbus::Variant>;

    sdbus::ObjectPath AddSubsystem(const std::string& nqn, const Options& options) override;
    void SetSubsystem(const std::string& nqn, const Options& options) override;
    void RemoveSubsystem(const std::string& nqn, const bool& force) override;
    void AllowHost(const std::string& nqn, const std::string& host_nqn) override;
    void DisallowHost(const std::string& nqn, const std::string& host_nqn) override;
    void AllowHostWithKeys(const std::string& nqn, const std::string& host_nqn, const Options& keys) override;
    void SetHostKeys(const std::string& nqn, const std::string& host_nqn, const Options& keys) override;
    Options GetHostKeys(const std::string& nqn, const std::string& host_nqn) override;
    std::tuple<uint32_t, sdbus::ObjectPath> AddNamespace(const std::string& nqn, const std::string& backend,
                                                         const std::map<std::string, std::string>& params,
                                                         const Options& options) override;
    void RemoveNamespace(const std::string& nqn, const uint32_t& nsid) override;
    void ResizeNamespace(const std::string& nqn, const uint32_t& nsid, const uint64_t& size_bytes) override;
    void SetNamespaceVisibility(const std::string& nqn, const uint32_t& nsid,
                                const std::vector<std::string>& hosts) override;
    void SetNamespaceAnaGroup(const std::string& nqn, const uint32_t& nsid, const uint32_t& group) override;
    std::tuple<uint16_t, sdbus::ObjectPath> AddPort(const std::string& transport, const std::string& address,
                                                    const std::string& service, const Options& options) override;
    void RemovePort(const uint16_t& id, const bool& force) override;
    void LinkSubsystem(const uint16_t& port, const std::string& nqn) override;
    void UnlinkSubsystem(const uint16_t& port, const std::string& nqn, const bool& force) override;
    void AddAnaGroup(const uint32_t& group) override;
    void RemoveAnaGroup(const uint32_t& group) override;
    void SetAnaState(const uint16_t& port, const uint32_t& group, const std::string& state) override;
    void DisconnectController(const std::string& nqn, const uint16_t& cntlid) override;
    std::vector<std::string> ApplyKernelChanges() override;
    std::string ExportConfig() override;
    void ExportConfigWithSecrets(const sdbus::UnixFd& file) override;
    void RestoreConfig(const std::string& json, const bool& force) override;

    void LoadPolicy(const std::string& name, const std::string& source, const std::string& file,
                    const std::map<std::string, std::string>& params) override;
    void UnloadPolicy(const std::string& name) override;
    std::vector<PolicyRecord> ListPolicies() override;
    std::tuple<PolicyRecord, std::string> ShowPolicy(const std::string& name) override;
    std::vector<std::string> Drain() override;
    std::vector<std::string> Resume() override;
    std::map<std::string, std::string> ProvisionNamespace(const std::string& template_name,
                                                          const std::map<std::string, std::string>& args) override;
    std::string TestPolicy(const std::string& source, const std::string& file,
                           const std::map<std::string, std::string>& params, const std::string& event,
                           const std::string& args_json) override;
    control::PolicyService& policies();

    std::string Version() override { return info_.version; }
    std::string StateFile() override { return info_.state_file; }
    std::string AdminGroup() override { return access_.admin_group(); }
    std::vector<uint32_t> AnaGroups() override { return ana_groups_; }
    std::vector<sdbus::Struct<std::string, std::string>> Offline() override { return offline_; }
    // Read from the kernel when asked: nvmetcli may have changed it since the last change signal.
    std::vector<std::string> KernelDrift() override { return control_.kernel_drift(); }

    // Runs a mutating call: checks the caller, maps errors, follows up.
    template <typename F>
    auto mutate(F&& f) -> decltype(f());
    // A read only admins may make (authorized like a change, but no PropertiesChanged).
    template <typename F>
    auto admin_read(std::string_view what, F&& f) -> decltype(f());
    void authorize(std::string_view action = "change nvmfd's exports");

    control::Control& control_;
    AdminAccess& access_;
    const ManagerInfo info_;
    std::function<void()> changed_;
    std::vector<uint32_t> ana_groups_;
    std::vector<sdbus::Struct<std::string, std::string>> offline_;
    std::vector<std::string> kernel_drift_;
};

}  // namespace nvmfd::dbus
