#include "plugins/backend_nvmet/nvmet_reconcile.hpp"

#include <algorithm>
#include <charconv>

namespace nvmfd::plugins::nvmet {
namespace {

using plugin::KernelExport;
using plugin::KernelNamespace;
using plugin::KernelPort;
using plugin::KernelSubsystem;

std::string trim_right(std::string s) {
    while (!s.empty() && s.back() == ' ') s.pop_back();
    return s;
}

// nvmet's spelling of "never set".
std::string unless_null(std::string s) { return s == "(null)" ? std::string() : s; }

template <typename T>
Result<T> parse_number(const std::string& text, const std::string& rel) {
    T v{};
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size())
        return make_error(ErrorCode::Io, fmt::format("nvmet: {} holds '{}', not a number", rel, text));
    return v;
}

// A directory's entry names that are numbers (namespaces, ports, ANA groups),
// with the number; nvmet makes no others there.
template <typename T>
std::vector<std::pair<std::string, T>> numbered(const std::vector<std::string>& names) {
    std::vector<std::pair<std::string, T>> out;
    for (const std::string& n : names)
        if (auto v = parse_number<T>(n, n)) out.emplace_back(n, *v);
    return out;
}

// The attributes `names` of `dir`, in that order; the first that cannot be
// read is the error.
Result<std::vector<std::string>> read_attrs(const Configfs& fs, const std::string& dir,
                                            std::initializer_list<const char*> names) {
    std::vector<std::string> out;
    for (const char* name : names) {
        auto v = fs.read(dir + "/" + name);
        if (!v) return nvmfd::unexpected(v.error());
        out.push_back(std::move(*v));
    }
    return out;
}

Result<KernelNamespace> read_namespace(const Configfs& fs, const std::string& dir, uint32_t nsid) {
    auto v = read_attrs(fs, dir, {"device_path", "device_uuid", "device_nguid", "buffered_io", "enable", "ana_grpid"});
    if (!v) return nvmfd::unexpected(v.error());
    auto group = parse_number<uint32_t>((*v)[5], dir + "/ana_grpid");
    if (!group) return nvmfd::unexpected(group.error());
    KernelNamespace n;
    n.nsid = nsid;
    n.device_path = unless_null((*v)[0]);
    n.uuid = (*v)[1];
    n.nguid = normalized_nguid((*v)[2]);
    n.buffered_io = (*v)[3] == "1";
    n.enabled = (*v)[4] == "1";
    n.ana_group = *group;
    return n;
}

Result<KernelSubsystem> read_subsystem(const Configfs& fs, const std::string& nqn) {
    const std::string dir = "subsystems/" + nqn;
    auto v = read_attrs(fs, dir, {"attr_serial", "attr_model", "attr_allow_any_host", "attr_cntlid_min", "attr_cntlid_max"});
    if (!v) return nvmfd::unexpected(v.error());
    auto min = parse_number<uint16_t>((*v)[3], dir + "/attr_cntlid_min");
    auto max = parse_number<uint16_t>((*v)[4], dir + "/attr_cntlid_max");
    auto hosts = fs.list(dir + "/allowed_hosts");
    auto nsids = fs.list(dir + "/namespaces");
    if (!min) return nvmfd::unexpected(min.error());
    if (!max) return nvmfd::unexpected(max.error());
    if (!hosts) return nvmfd::unexpected(hosts.error());
    if (!nsids) return nvmfd::unexpected(nsids.error());
    KernelSubsystem s;
    s.nqn = nqn;
    // nvmet pads the serial with spaces to its 20 bytes.
    s.serial = trim_right((*v)[0]);
    s.model = trim_right((*v)[1]);
    s.allow_any_host = (*v)[2] == "1";
    s.min_cntlid = *min;
    s.max_cntlid = *max;
    s.hosts = *hosts;
    for (const auto& [name, nsid] : numbered<uint32_t>(*nsids)) {
        auto n = read_namespace(fs, dir + "/namespaces/" + name, nsid);
        if (!n) return nvmfd::unexpected(n.error());
        s.namespaces.push_back(std::move(*n));
    }
    std::sort(s.namespaces.begin(), s.namespaces.end(), [](auto& a, auto& b) { return a.nsid < b.nsid; });
    if (fs.exists(dir + "/passthru/enable")) {
        auto p = read_attrs(fs, dir + "/passthru", {"enable", "device_path"});
        if (!p) return nvmfd::unexpected(p.error());
        if ((*p)[0] == "1") s.passthru_device = unless_null((*p)[1]);
    }
    return s;
}

Result<KernelPort> read_port(const Configfs& fs, const std::string& name, uint16_t id) {
    const std::string dir = "ports/" + name;
    auto v = read_attrs(fs, dir, {"addr_trtype", "addr_adrfam", "addr_traddr", "addr_trsvcid"});
    auto subs = fs.list(dir + "/subsystems");
    auto groups = fs.list(dir + "/ana_groups");
    if (!v) return nvmfd::unexpected(v.error());
    if (!subs) return nvmfd::unexpected(subs.error());
    if (!groups) return nvmfd::unexpected(groups.error());
    KernelPort p;
    p.id = id;
    p.trtype = (*v)[0];
    p.adrfam = (*v)[1];
    p.traddr = (*v)[2];
    p.trsvcid = (*v)[3];
    p.subsystems = *subs;
    for (const auto& [g, group] : numbered<uint32_t>(*groups)) {
        auto state = fs.read(dir + "/ana_groups/" + g + "/ana_state");
        if (!state) return nvmfd::unexpected(state.error());
        p.ana_states[group] = *state;
    }
    return p;
}

}  // namespace

Result<KernelExport> read_kernel_export(const Configfs& fs) {
    KernelExport e;
    auto hosts = fs.list("hosts");
    auto subs = fs.list("subsystems");
    auto ports = fs.list("ports");
    if (!hosts) return nvmfd::unexpected(hosts.error());
    if (!subs) return nvmfd::unexpected(subs.error());
    if (!ports) return nvmfd::unexpected(ports.error());
    e.hosts = *hosts;
    for (const std::string& nqn : *subs) {
        auto s = read_subsystem(fs, nqn);
        if (!s) return nvmfd::unexpected(s.error());
        e.subsystems.push_back(std::move(*s));
    }
    for (const auto& [name, id] : numbered<uint16_t>(*ports)) {
        auto p = read_port(fs, name, id);
        if (!p) return nvmfd::unexpected(p.error());
        e.ports.push_back(std::move(*p));
    }
    std::sort(e.ports.begin(), e.ports.end(), [](auto& a, auto& b) { return a.id < b.id; });
    return e;
}

Result<void> apply_steps(Configfs& fs, const std::vector<NvmetStep>& steps) {
    for (const NvmetStep& s : steps) {
        Result<void> r;
        switch (s.kind) {
        case NvmetStep::Kind::MakeDir: r = fs.make_dir(s.path, s.field); break;
        case NvmetStep::Kind::RemoveDir: r = fs.remove_dir(s.path, s.field); break;
        case NvmetStep::Kind::Write: r = fs.write(s.path, s.value, s.field); break;
        case NvmetStep::Kind::Link: r = fs.link(s.value, s.path, s.field); break;
        case NvmetStep::Kind::Unlink: r = fs.unlink(s.path, s.field); break;
        }
        if (!r) return r;
    }
    return {};
}

Result<NvmetPlan> reconcile(Configfs& fs, const plugin::KernelExport& desired, const NvmetScope& scope,
                            NvmetPlanOptions options) {
    auto actual = read_kernel_export(fs);
    if (!actual) return nvmfd::unexpected(actual.error());
    NvmetPlan plan = plan_reconcile(*actual, desired, scope, options);
    if (auto r = refusal(plan); !r) return nvmfd::unexpected(r.error());
    if (auto r = apply_steps(fs, plan.steps); !r) return nvmfd::unexpected(r.error());
    return plan;
}

Result<void> refusal(const NvmetPlan& plan) {
    if (plan.refused.empty()) return {};
    return make_error(ErrorCode::Busy,
                      fmt::format("nvmet: {} (change it with nvmetcli, or choose another address)", plan.refused.front()),
                      "address");
}

}  // namespace nvmfd::plugins::nvmet
