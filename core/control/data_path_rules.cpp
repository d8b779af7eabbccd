#include "core/control/data_path_rules.hpp"

#include <algorithm>
#include <filesystem>
#include <map>
#include <fmt/format.h>

#include "core/control/control_helpers.hpp"
#include "core/control/data_path.hpp"
#include "core/target/ana.hpp"

namespace nvmfd::control {
namespace {

// nvmet's own limits (drivers/nvme/target/nvmet.h).
constexpr uint32_t kNvmetMaxAnaGroups = 128;  // NVMET_MAX_ANAGRPS
// The transports nvmet serves (and nvmfd's names for them).
constexpr std::string_view kKernelTransports[] = {"tcp", "rdma", "fc"};

nvmfd::unexpected<Error> refuse(std::string msg, std::string field) {
    return make_error(ErrorCode::InvalidArgument, std::move(msg), std::move(field));
}

Result<void> check_kernel_namespace(const SubsystemSpec& s, const NamespaceSpec& ns) {
    const std::string what = fmt::format("namespace {} of {} (served by the kernel)", ns.nsid, s.nqn);
    if (ns.backend != kKernelBackend)
        return refuse(fmt::format("{}: the kernel serves a block device or a file: backend '{}' with params path "
                                  "(and buffered_io), not '{}'",
                                  what, kKernelBackend, ns.backend),
                      "backend");
    for (const auto& [key, value] : ns.params)
        if (key != "path" && key != "buffered_io")
            return refuse(fmt::format("{}: unknown parameter '{}' (the kernel backend takes path and buffered_io)",
                                      what, key),
                          "params." + key);
    auto path = plugin::find_param(ns.params, "path");
    if (!path || path->empty() || path->front() != '/')
        return refuse(fmt::format("{}: needs the absolute path of a block device or a file", what), "params.path");
    if (auto b = plugin::find_param(ns.params, "buffered_io"))
        if (auto parsed = plugin::parse_bool(*b, "buffered_io"); !parsed)
            return refuse(fmt::format("{}: {}", what, parsed.error().message), "params.buffered_io");
    if (!ns.visible_to.empty())
        return refuse(fmt::format("{}: nvmet cannot hide a namespace from some allowed hosts; put it in a subsystem "
                                  "of its own",
                                  what),
                      "visible_to");
    if (ns.ana_group > kNvmetMaxAnaGroups)
        return refuse(fmt::format("{}: nvmet's ANA groups are 1 to {}, not {}", what, kNvmetMaxAnaGroups, ns.ana_group),
                      "ana_group");
    return {};
}

Result<void> check_subsystem(const SubsystemSpec& s) {
    if (s.data_path == DataPath::Nvmfd) {
        if (!s.passthru_device.empty())
            return refuse(fmt::format("{}: passthru is done by the kernel's target; make the subsystem with data "
                                      "path kernel",
                                      s.nqn),
                          "passthru_device");
        for (const auto& ns : s.namespaces)
            if (ns.backend == kKernelBackend)
                return refuse(fmt::format("namespace {} of {}: backend '{}' is for subsystems served by the kernel "
                                          "(data path kernel)",
                                          ns.nsid, s.nqn, kKernelBackend),
                              "backend");
        return {};
    }
    if (!s.host_auth.empty())
        return refuse(fmt::format("{} is served by the kernel: DH-HMAC-CHAP and TLS keys for its hosts are not "
                                  "supported yet (host {})",
                                  s.nqn, s.host_auth.begin()->first),
                      "host_auth");
    if (!s.passthru_device.empty()) {
        if (s.passthru_device.front() != '/')
            return refuse(fmt::format("{}: '{}' is not the absolute path of an NVMe controller (/dev/nvme0)", s.nqn,
                                      s.passthru_device),
                          "passthru_device");
        if (!s.namespaces.empty())
            return refuse(fmt::format("{} passes {} through, whose namespaces it serves; it cannot have namespaces of "
                                      "its own (namespace {})",
                                      s.nqn, s.passthru_device, s.namespaces.front().nsid),
                          "passthru_device");
    }
    for (const auto& ns : s.namespaces) TRY(check_kernel_namespace(s, ns));
    return {};
}

bool wildcard(const std::string& address) { return address == "0.0.0.0" || address == "::" || address.empty(); }

// Two ports that would take the same listening socket.
bool overlap(const PortSpec& a, const PortSpec& b) {
    if (a.transport != b.transport || a.service != b.service || a.transport == "fc") return false;
    return a.address == b.address || ((wildcard(a.address) || wildcard(b.address)) && a.family == b.family);
}

Result<void> check_port(const PortSpec& p, const ExportSpec& spec) {
    const std::string what = fmt::format("port {} ({})", p.id, data_path_name(p.data_path));
    if (p.data_path == DataPath::Kernel) {
        if (std::find(std::begin(kKernelTransports), std::end(kKernelTransports), p.transport) ==
            std::end(kKernelTransports))
            return refuse(fmt::format("{}: the kernel serves tcp, rdma and fc, not '{}'", what, p.transport),
                          "transport");
        if (p.secure_channel != plugin::SecureChannel::None)
            return refuse(fmt::format("{}: TLS on the kernel's target needs the tlshd daemon; not supported", what),
                          "secure_channel");
        if (!p.params.empty())
            return refuse(fmt::format("{}: '{}' is a setting of nvmfd's transport; the kernel's port takes none",
                                      what, p.params.begin()->first),
                          "params");
        if (p.transport != "fc" && p.family != "ipv4" && p.family != "ipv6")
            return refuse(fmt::format("{}: {} takes family ipv4 or ipv6, not '{}'", what, p.transport, p.family),
                          "family");
    } else if (p.transport == "fc") {
        return refuse(fmt::format("{}: Fibre Channel is served by the kernel only (data path kernel)", what),
                      "data_path");
    }
    for (const auto& nqn : p.subsystems)
        for (const auto& s : spec.subsystems)
            if (s.nqn == nqn && s.data_path != p.data_path)
                return refuse(fmt::format("{}: {} is served by {}, and a port serves only its own data path's "
                                          "subsystems",
                                          what, nqn, s.data_path == DataPath::Kernel ? "the kernel" : "nvmfd"),
                              "subsystems");
    for (const auto& other : spec.ports)
        if (other.id != p.id && other.data_path != p.data_path && overlap(p, other))
            return refuse(fmt::format("{} and port {} ({}) both claim {} {}:{}", what, other.id,
                                      data_path_name(other.data_path), p.transport, p.address, p.service),
                          "address");
    return {};
}

}  // namespace

// One device, one writer: a file or block device serves one namespace, and a
// controller passed through serves none of its namespaces elsewhere.
Result<void> check_devices(const ExportSpec& spec) {
    std::map<std::string, std::string> used;  // path -> what uses it
    for (const auto& s : spec.subsystems) {
        if (!s.passthru_device.empty()) {
            const std::string what = fmt::format("{} (passthru)", s.nqn);
            if (auto [it, fresh] = used.emplace(s.passthru_device, what); !fresh)
                return refuse(fmt::format("{} is passed through by {} already", s.passthru_device, it->second),
                              "passthru_device");
        }
        for (const auto& ns : s.namespaces) {
            auto path = plugin::find_param(ns.params, "path");
            if (!path || path->empty()) continue;
            const std::string p = std::filesystem::path(*path).lexically_normal().string();
            const std::string what = fmt::format("namespace {} of {}", ns.nsid, s.nqn);
            if (auto [it, fresh] = used.emplace(p, what); !fresh)
                return refuse(fmt::format("{}: {} is served by {} already", what, p, it->second), "params.path");
        }
    }
    // /dev/nvme0 passed through: none of /dev/nvme0n1, /dev/nvme0n2... elsewhere.
    for (const auto& [path, what] : used)
        for (const auto& s : spec.subsystems)
            if (!s.passthru_device.empty() && path != s.passthru_device && path.starts_with(s.passthru_device + "n"))
                return refuse(fmt::format("{} uses {}, a namespace of {}, which {} passes through whole", what, path,
                                          s.passthru_device, s.nqn),
                              "params.path");
    return {};
}

Result<void> check_data_paths(const ExportSpec& spec) {
    TRY(check_devices(spec));
    for (const auto& s : spec.subsystems) TRY(check_subsystem(s));
    for (const auto& p : spec.ports) TRY(check_port(p, spec));
    return {};
}

}  // namespace nvmfd::control
