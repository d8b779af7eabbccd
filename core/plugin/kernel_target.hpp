// The contract of a kernel data path (issue 12; docs/kernel-offload-design.md):
// subsystems and ports that the kernel's target serves (Linux nvmet), while
// nvmfd keeps managing them. The core describes the whole kernel-served
// export it wants; the plugin makes the kernel's configuration equal to it
// (reconcile: at start, after every change, after a crash of nvmfd) with as
// few changes as that takes, so that hosts connected to what did not change
// stay connected. Declarative on purpose: applying the same export twice
// changes nothing, and whatever nvmfd did before it died is repaired by
// applying the export again.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/plugin/params.hpp"
#include "core/runtime/error.hpp"

namespace nvmfd::plugin {

struct KernelNamespace {
    uint32_t nsid = 0;
    std::string device_path;  // a block device or a file
    std::string uuid;         // as nvmet writes it: 8-4-4-4-12 hex
    std::string nguid;        // 32 hex digits (written with dashes, as nvmet shows it)
    bool buffered_io = false;  // files only: the page cache instead of O_DIRECT
    uint32_t ana_group = 1;
    // Read back: whether nvmet serves it (a namespace left disabled, e.g. by
    // a crash between two writes, is enabled again). Always true when wanted.
    bool enabled = true;
    bool operator==(const KernelNamespace&) const = default;
};

struct KernelSubsystem {
    std::string nqn;
    std::string serial;  // empty: leave the kernel's
    std::string model;   // empty: leave the kernel's
    uint16_t min_cntlid = 1;
    uint16_t max_cntlid = 0xffef;
    bool allow_any_host = false;
    std::vector<std::string> hosts;  // allowed host NQNs, sorted; empty when allow_any_host (nvmet takes one or the other)
    std::vector<KernelNamespace> namespaces;  // sorted by NSID
    // A whole local NVMe controller passed through (/dev/nvmeN); then no
    // namespaces of its own (the kernel refuses both at once).
    std::string passthru_device;
    bool operator==(const KernelSubsystem&) const = default;
};

struct KernelPort {
    uint16_t id = 0;
    std::string trtype;  // tcp, rdma, fc, loop
    std::string adrfam;  // ipv4, ipv6, fc, "" for loop
    std::string traddr;
    std::string trsvcid;  // empty for fc and loop
    std::vector<std::string> subsystems;  // linked NQNs, sorted
    // Group -> optimized, non-optimized, inaccessible, persistent-loss or
    // change: every group the port's namespaces use. A group without a
    // state here is inaccessible through the port (nvmet's rule).
    std::map<uint32_t, std::string> ana_states;
    bool operator==(const KernelPort&) const = default;
};

struct KernelExport {
    std::vector<KernelSubsystem> subsystems;  // sorted by NQN
    std::vector<KernelPort> ports;            // sorted by id
    // Host NQNs the kernel knows (its hosts/ directory): every allowed host
    // of every subsystem, sorted.
    std::vector<std::string> hosts;
    bool operator==(const KernelExport&) const = default;
};

// What nvmfd manages in the kernel's configuration: the subsystems, ports
// and hosts its state names, before and after a change. Everything else
// (an admin's own nvmetcli objects) is neither compared nor touched.
struct KernelScope {
    std::set<std::string> subsystems;
    std::set<uint16_t> ports;
    std::set<std::string> hosts;
    bool empty() const { return subsystems.empty() && ports.empty() && hosts.empty(); }
};

struct KernelApplied {
    size_t changes = 0;                  // single configuration writes made
    std::vector<std::string> held_back;  // differences left alone, one line each
};

class KernelTarget {
public:
    virtual ~KernelTarget() = default;
    // Make the kernel's configuration of what `scope` names equal to
    // `desired`. With `allow_disruptive` (an admin's change) it does what
    // it takes, even what drops hosts (re-addressing a port, changing a
    // namespace's device, removing things); without (start, recovery) only
    // what hosts do not notice, and the rest is held back. Stops at the
    // first refusal, whose error names the field.
    virtual Result<KernelApplied> apply(const KernelExport& desired, const KernelScope& scope,
                                        bool allow_disruptive) = 0;
    // What differs now (nothing changed): one line per difference.
    virtual Result<std::vector<std::string>> differences(const KernelExport& desired, const KernelScope& scope) = 0;
    // Every subsystem, port and host the kernel's configuration holds now,
    // whoever made it.
    virtual Result<KernelScope> objects() = 0;
    // A port as this kernel target takes it: its address checked and
    // written the way the kernel spells it (an FC port's world wide names);
    // the error names the field.
    virtual Result<KernelPort> check_port(const KernelPort& port) = 0;
    // One line for logs: where it writes ("nvmet configfs at /sys/kernel/config/nvmet").
    virtual std::string describe() const = 0;
};

}  // namespace nvmfd::plugin
