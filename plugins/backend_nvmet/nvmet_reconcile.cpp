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

template <typename T>
Result<T> number(const Configfs& fs, const std::string& rel) {
    auto text = fs.read(rel);
    if (!text) return nvmfd::unexpected(text.error());
    T v{};
    auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), v);
    if (ec != std::errc() || end != text->data() + text->size())
        return make_error(ErrorCode::Io, fmt::format("nvmet: {} holds '{}', not a number", rel, *text));
    return v;
}

Result<KernelNamespace> read_namespace(const Configfs& fs, const std::string& dir, uint32_t nsid) {
    KernelNamespace n;
    n.nsid = nsid;
    auto path = fs.read(dir + "/device_path");
    auto uuid = fs.read(dir + "/device_uuid");
    auto nguid = fs.read(dir + "/device_nguid");
    auto buffered = fs.read(dir + "/buffered_io");
    auto enabled = fs.read(dir + "/enable");
    auto group = number<uint32_t>(fs, dir + "/ana_grpid");
    for (const auto* r : {&path, &uuid, &nguid, &buffered, &enabled})
        if (!*r) return nvmfd::unexpected(r->error());
    if (!group) return nvmfd::unexpected(group.error());
    n.device_path = *path == "(null)" ? "" : *path;  // never set
    n.uuid = *uuid;
    n.nguid = normalized_nguid(*nguid);
    n.buffered_io = *buffered == "1";
    n.enabled = *enabled == "1";
    n.ana_group = *group;
    return n;
}

Result<KernelSubsystem> read_subsystem(const Configfs& fs, const std::string& nqn) {
    const std::string dir = "subsystems/" + nqn;
    KernelSubsystem s;
    s.nqn = nqn;
    auto serial = fs.read(dir + "/attr_serial");
    auto model = fs.read(dir + "/attr_model");
    auto any = fs.read(dir + "/attr_allow_any_host");
    auto min = number<uint16_t>(fs, dir + "/attr_cntlid_min");
    auto max = number<uint16_t>(fs, dir + "/attr_cntlid_max");
    auto hosts = fs.list(dir + "/allowed_hosts");
    auto nsids = fs.list(dir + "/namespaces");
    for (const auto* r : {&serial, &model, &any})
        if (!*r) return nvmfd::unexpected(r->error());
    if (!min) return nvmfd::unexpected(min.error());
    if (!max) return nvmfd::unexpected(max.error());
    if (!hosts) return nvmfd::unexpected(hosts.error());
    if (!nsids) return nvmfd::unexpected(nsids.error());
    // nvmet pads the serial with spaces to its 20 bytes.
    s.serial = trim_right(*serial);
    s.model = trim_right(*model);
    s.allow_any_host = *any == "1";
    s.min_cntlid = *min;
    s.max_cntlid = *max;
    s.hosts = *hosts;
    for (const std::string& name : *nsids) {
        uint32_t nsid = 0;
        auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), nsid);
        if (ec != std::errc() || end != name.data() + name.size()) continue;  // nvmet makes only numbers
        auto n = read_namespace(fs, dir + "/namespaces/" + name, nsid);
        if (!n) return nvmfd::unexpected(n.error());
        s.namespaces.push_back(std::move(*n));
    }
    std::sort(s.namespaces.begin(), s.namespaces.end(), [](auto& a, auto& b) { return a.nsid < b.nsid; });
    if (fs.exists(dir + "/passthru/enable")) {
        auto on = fs.read(dir + "/passthru/enable");
        if (!on) return nvmfd::unexpected(on.error());
        if (*on == "1") {
            auto dev = fs.read(dir + "/passthru/device_path");
            if (!dev) return nvmfd::unexpected(dev.error());
            s.passthru_device = *dev == "(null)" ? "" : *dev;
        }
    }
    return s;
}

Result<KernelPort> read_port(const Configfs& fs, const std::string& name, uint16_t id) {
    const std::string dir = "ports/" + name;
    KernelPort p;
    p.id = id;
    auto trtype = fs.read(dir + "/addr_trtype");
    auto adrfam = fs.read(dir + "/addr_adrfam");
    auto traddr = fs.read(dir + "/addr_traddr");
    auto trsvcid = fs.read(dir + "/addr_trsvcid");
    auto subs = fs.list(dir + "/subsystems");
    auto groups = fs.list(dir + "/ana_groups");
    for (const auto* r : {&trtype, &adrfam, &traddr, &trsvcid})
        if (!*r) return nvmfd::unexpected(r->error());
    if (!subs) return nvmfd::unexpected(subs.error());
    if (!groups) return nvmfd::unexpected(groups.error());
    p.trtype = *trtype;
    p.adrfam = *adrfam;
    p.traddr = *traddr;
    p.trsvcid = *trsvcid;
    p.subsystems = *subs;
    for (const std::string& g : *groups) {
        uint32_t group = 0;
        auto [end, ec] = std::from_chars(g.data(), g.data() + g.size(), group);
        if (ec != std::errc() || end != g.data() + g.size()) continue;
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
    for (const std::string& name : *ports) {
        uint16_t id = 0;
        auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), id);
        if (ec != std::errc() || end != name.data() + name.size()) continue;
        auto p = read_port(fs, name, id);
        if (!p) return nvmfd::unexpected(p.error());
        e.ports.push_back(std::move(*p));
    }
    std::sort(e.ports.begin(), e.ports.end(), [](auto& a, auto& b) { return a.id < b.id; });
    return e;
}

Result<void> apply_steps(Configfs& fs, const std::vector<NvmetStep>& steps, size_t* done) {
    if (done) *done = 0;
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
        if (done) ++*done;
    }
    return {};
}

Result<NvmetPlan> reconcile(Configfs& fs, const plugin::KernelExport& desired, const NvmetScope& scope,
                            NvmetPlanOptions options) {
    auto actual = read_kernel_export(fs);
    if (!actual) return nvmfd::unexpected(actual.error());
    NvmetPlan plan = plan_reconcile(*actual, desired, scope, options);
    if (auto r = apply_steps(fs, plan.steps); !r) return nvmfd::unexpected(r.error());
    return plan;
}

}  // namespace nvmfd::plugins::nvmet
