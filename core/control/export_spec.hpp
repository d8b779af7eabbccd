// The export configuration as an admin thinks of it (what nvmetcli calls
// saveconfig.json): subsystems with their namespaces and hosts, ports with
// their links and ANA states, ANA groups. This is what the state file holds
// and what `config save/restore` moves; the live objects are built from it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/plugin/params.hpp"
#include "core/plugin/transport.hpp"
#include "core/proto/log_pages.hpp"

namespace nvmfd::control {

// Who moves a subsystem's or a port's data: nvmfd's reactors, or the
// kernel's nvmet, which nvmfd then configures through configfs
// (docs/kernel-offload.md). Chosen when the object is made.
enum class DataPath { Nvmfd, Kernel };

// The backend name of a kernel-served namespace (params: path, buffered_io).
inline constexpr const char* kKernelBackend = "kernel";

struct NamespaceSpec {
    uint32_t nsid = 0;
    std::string backend;
    plugin::Params params;
    std::string uuid;   // generated once, then kept
    std::string nguid;  // 32 hex digits, generated once, then kept
    uint32_t ana_group = 1;
    std::vector<std::string> visible_to;  // empty: every allowed host
};

// A host's authentication settings on one subsystem. The secrets live in
// the secrets file, never in the state file, exports or replies: the state
// file records only which of them are set (a secret it names but the
// secrets file lacks refuses the host rather than letting it in without).
struct SecretSpec {
    bool set = false;
    std::string text;  // DHHC-1 / NVMeTLSkey-1 text; empty while set = missing from the secrets file
    bool missing() const { return set && text.empty(); }
};

struct HostAuthSpec {
    SecretSpec dhchap_secret;       // the host's: it must authenticate
    SecretSpec dhchap_ctrl_secret;  // the controller's: bidirectional
    SecretSpec tls_psk;             // retained PSK (TLS)
    std::vector<std::string> dhchap_digests;  // allowed hashes; empty = all
    std::vector<std::string> dhchap_groups;   // allowed DH groups; empty = all
    bool empty() const {
        return !dhchap_secret.set && !dhchap_ctrl_secret.set && !tls_psk.set && dhchap_digests.empty() &&
               dhchap_groups.empty();
    }
};

struct SubsystemSpec {
    std::string nqn;
    DataPath data_path = DataPath::Nvmfd;
    // Kernel only: a whole local NVMe controller (/dev/nvmeN) passed
    // through; then the subsystem has no namespaces of its own.
    std::string passthru_device;
    std::string serial;
    std::string model;
    bool allow_any_host = false;
    std::vector<std::string> hosts;
    std::map<std::string, HostAuthSpec> host_auth;  // by host NQN; only allowed hosts
    uint32_t max_namespaces = 1024;
    // Controller IDs this gateway hands out: gateways exporting the same
    // subsystem need disjoint ranges (a host refuses two controllers with
    // one CNTLID in a subsystem).
    uint16_t min_cntlid = 1;
    uint16_t max_cntlid = 0xffef;
    std::vector<NamespaceSpec> namespaces;  // sorted by NSID
};

struct PortSpec {
    uint16_t id = 0;
    DataPath data_path = DataPath::Nvmfd;
    std::string transport = "tcp";
    std::string family = "ipv4";
    std::string address;
    std::string service = "4420";
    plugin::Params params;
    std::vector<std::string> subsystems;  // linked NQNs, sorted
    std::map<uint32_t, proto::AnaState> ana_states;  // group -> state; absent = optimized
    plugin::SecureChannel secure_channel = plugin::SecureChannel::None;  // TLS (NVMe/TCP only)
};

// A Lua policy as it is persisted: enough to compile and start it again at
// the next start (the source itself, not only its path, so that a policy
// file edited or deleted later does not change what the daemon runs).
struct PolicySpec {
    std::string name;    // 1-64 characters of [A-Za-z0-9_.-]
    std::string source;  // the Lua text
    std::string file;    // where it was loaded from, for messages ("file:line")
    std::map<std::string, std::string> params;  // nvmfd.params in the script
};

struct ExportSpec {
    std::vector<uint32_t> ana_groups{1};
    std::vector<SubsystemSpec> subsystems;  // sorted by NQN
    std::vector<PortSpec> ports;            // sorted by id
    std::vector<PolicySpec> policies;       // sorted by name
};

inline constexpr int kStateFormatVersion = 1;

}  // namespace nvmfd::control
