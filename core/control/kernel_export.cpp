#include "core/control/kernel_export.hpp"

#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fmt/format.h>
#include <fstream>
#include <set>

#include "core/target/ana.hpp"

namespace nvmfd::control {
namespace {

std::string param(const plugin::Params& p, std::string_view key) {
    return std::string(plugin::find_param(p, key).value_or(""));
}

plugin::KernelSubsystem kernel_subsystem(const SubsystemSpec& s) {
    plugin::KernelSubsystem k;
    k.nqn = s.nqn;
    // A passthru controller shows hosts the drive's own serial and model.
    if (s.passthru_device.empty()) {
        k.serial = s.serial;
        k.model = s.model;
    }
    k.min_cntlid = s.min_cntlid;
    k.max_cntlid = s.max_cntlid;
    k.allow_any_host = s.allow_any_host;
    if (!s.allow_any_host) k.hosts = s.hosts;  // nvmet takes one or the other
    k.passthru_device = s.passthru_device;
    for (const auto& ns : s.namespaces) {
        plugin::KernelNamespace n;
        n.nsid = ns.nsid;
        n.device_path = param(ns.params, "path");
        n.uuid = ns.uuid;
        n.nguid = ns.nguid;
        auto buffered = plugin::parse_bool(param(ns.params, "buffered_io"), "buffered_io");
        n.buffered_io = buffered && *buffered;
        n.ana_group = ns.ana_group;
        k.namespaces.push_back(std::move(n));
    }
    return k;
}

// nvmet makes a group inaccessible on a port that does not name it, where
// nvmfd's model says optimized: every group the port's namespaces use is named.
plugin::KernelPort kernel_port(const PortSpec& p, const ExportSpec& spec) {
    plugin::KernelPort k;
    k.id = p.id;
    k.trtype = p.transport;
    k.adrfam = p.family;
    k.traddr = p.address;
    if (p.transport == "tcp" || p.transport == "rdma") k.trsvcid = p.service;
    k.subsystems = p.subsystems;
    std::set<uint32_t> groups{1};
    for (const auto& s : spec.subsystems)
        if (std::binary_search(p.subsystems.begin(), p.subsystems.end(), s.nqn))
            for (const auto& ns : s.namespaces) groups.insert(ns.ana_group);
    for (uint32_t g : groups) {
        auto it = p.ana_states.find(g);
        k.ana_states[g] = target::ana_state_name(it == p.ana_states.end() ? proto::AnaState::Optimized : it->second);
    }
    return k;
}

void add_hosts(std::set<std::string>& to, const plugin::KernelSubsystem* s) {
    if (s) to.insert(s->hosts.begin(), s->hosts.end());
}

}  // namespace

plugin::KernelExport kernel_export(const ExportSpec& spec) {
    plugin::KernelExport e;
    std::set<std::string> hosts;
    for (const auto& s : spec.subsystems) {
        if (s.data_path != DataPath::Kernel) continue;
        e.subsystems.push_back(kernel_subsystem(s));
        add_hosts(hosts, &e.subsystems.back());
    }
    for (const auto& p : spec.ports)
        if (p.data_path == DataPath::Kernel) e.ports.push_back(kernel_port(p, spec));
    e.hosts.assign(hosts.begin(), hosts.end());
    return e;
}

plugin::KernelScope kernel_scope(const plugin::KernelExport& a, const plugin::KernelExport& b) {
    plugin::KernelScope scope;
    for (const auto* e : {&a, &b}) {
        for (const auto& s : e->subsystems) scope.subsystems.insert(s.nqn);
        for (const auto& p : e->ports) scope.ports.insert(p.id);
        scope.hosts.insert(e->hosts.begin(), e->hosts.end());
    }
    return scope;
}

plugin::KernelScope changed_scope(const plugin::KernelExport& before, const plugin::KernelExport& after) {
    auto find_sub = [](const plugin::KernelExport& e, const std::string& nqn) -> const plugin::KernelSubsystem* {
        for (const auto& s : e.subsystems)
            if (s.nqn == nqn) return &s;
        return nullptr;
    };
    auto find_port = [](const plugin::KernelExport& e, uint16_t id) -> const plugin::KernelPort* {
        for (const auto& p : e.ports)
            if (p.id == id) return &p;
        return nullptr;
    };
    plugin::KernelScope all = kernel_scope(before, after);
    plugin::KernelScope changed;
    for (const auto& nqn : all.subsystems) {
        const auto* b = find_sub(before, nqn);
        const auto* a = find_sub(after, nqn);
        if (b && a && *b == *a) continue;
        changed.subsystems.insert(nqn);
        add_hosts(changed.hosts, b);
        add_hosts(changed.hosts, a);
    }
    for (uint16_t id : all.ports) {
        const auto* b = find_port(before, id);
        const auto* a = find_port(after, id);
        // A port's links to subsystems out of scope are kept or made as the
        // whole export says (the plan reads it); the subsystems themselves,
        // and whatever was held back on them, are left alone.
        if (!(b && a && *b == *a)) changed.ports.insert(id);
    }
    // A host no subsystem names any more (its entry goes) or a new one.
    std::set_symmetric_difference(before.hosts.begin(), before.hosts.end(), after.hosts.begin(), after.hosts.end(),
                                  std::inserter(changed.hosts, changed.hosts.end()));
    return changed;
}

// What the kernel serves is the device's or the file's whole size, read now
// without opening it (a FIFO or a hung mount must not stall the caller,
// which holds the control lock): stat, and a block device's size from sysfs.
Result<uint64_t> kernel_device_size(const plugin::Params& params) {
    std::string path(plugin::find_param(params, "path").value_or(""));
    struct stat st{};
    if (::stat(path.c_str(), &st) != 0)
        return make_error(ErrorCode::NotFound, fmt::format("{}: {}", path, std::strerror(errno)), "path");
    if (S_ISREG(st.st_mode)) return uint64_t(st.st_size);
    if (!S_ISBLK(st.st_mode))
        return make_error(ErrorCode::InvalidArgument, fmt::format("{} is neither a file nor a block device", path), "path");
    std::ifstream sectors(fmt::format("/sys/dev/block/{}:{}/size", major(st.st_rdev), minor(st.st_rdev)));
    uint64_t n = 0;
    if (!(sectors >> n)) return make_error(ErrorCode::Io, fmt::format("{}: no size in sysfs", path), "path");
    return n * 512;  // sysfs counts 512-byte sectors whatever the block size
}

}  // namespace nvmfd::control
