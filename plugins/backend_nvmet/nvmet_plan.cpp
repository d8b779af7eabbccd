#include "plugins/backend_nvmet/nvmet_plan.hpp"

#include <algorithm>
#include <cctype>
#include <set>

#include <fmt/format.h>

namespace nvmfd::plugins::nvmet {
namespace {

using plugin::KernelExport;
using plugin::KernelNamespace;
using plugin::KernelPort;
using plugin::KernelSubsystem;
using Kind = NvmetStep::Kind;

// What nvmet gives a directory it has just made (drivers/nvme/target/configfs.c).
constexpr uint16_t kDefaultMinCntlid = 1;
constexpr uint16_t kDefaultMaxCntlid = 0xffef;
// ANA group 1 exists on every port, optimized; a group made later starts inaccessible.
constexpr const char* kGroupOneState = "optimized";
constexpr const char* kNewGroupState = "inaccessible";

std::string sub_dir(const std::string& nqn) { return "subsystems/" + nqn; }
std::string ns_dir(const std::string& nqn, uint32_t nsid) { return sub_dir(nqn) + "/namespaces/" + std::to_string(nsid); }
std::string port_dir(uint16_t id) { return "ports/" + std::to_string(id); }

template <typename T, typename K, typename F>
const T* find(const std::vector<T>& v, const K& key, F key_of) {
    for (const T& x : v)
        if (key_of(x) == key) return &x;
    return nullptr;
}
const KernelSubsystem* find_sub(const KernelExport& e, const std::string& nqn) {
    return find(e.subsystems, nqn, [](const KernelSubsystem& s) { return s.nqn; });
}
const KernelPort* find_port(const KernelExport& e, uint16_t id) {
    return find(e.ports, id, [](const KernelPort& p) { return p.id; });
}
const KernelNamespace* find_ns(const KernelSubsystem* s, uint32_t nsid) {
    return s ? find(s->namespaces, nsid, [](const KernelNamespace& n) { return n.nsid; }) : nullptr;
}
bool contains(const std::vector<std::string>& v, const std::string& x) { return std::find(v.begin(), v.end(), x) != v.end(); }

// The hosts nvmet is to hold in allowed_hosts: none when any host may connect.
std::vector<std::string> allowed(const KernelSubsystem& s) { return s.allow_any_host ? std::vector<std::string>{} : s.hosts; }

// The address a port is to have: the fields the export gives (FC and loop
// ports have no service; a loop port no address) are compared, the others
// are left as the kernel has them.
bool same_address(const KernelPort& a, const KernelPort& d) {
    return a.trtype == d.trtype && (d.adrfam.empty() || a.adrfam == d.adrfam) &&
           (d.traddr.empty() || a.traddr == d.traddr) && (d.trsvcid.empty() || a.trsvcid == d.trsvcid);
}
bool serve_same_address(const KernelPort& a, const KernelPort& b) {
    return a.trtype == b.trtype && a.adrfam == b.adrfam && a.traddr == b.traddr && a.trsvcid == b.trsvcid;
}
// Attributes nvmet takes only while the namespace is disabled (a UUID or
// NGUID the export leaves empty is the kernel's to keep).
bool uuid_changes(const KernelNamespace& a, const KernelNamespace& d) {
    return !d.uuid.empty() && normalized_uuid(a.uuid) != normalized_uuid(d.uuid);
}
bool nguid_changes(const KernelNamespace& a, const KernelNamespace& d) {
    return !d.nguid.empty() && normalized_nguid(a.nguid) != normalized_nguid(d.nguid);
}
bool needs_disable(const KernelNamespace& a, const KernelNamespace& d) {
    return a.device_path != d.device_path || uuid_changes(a, d) || nguid_changes(a, d) || a.buffered_io != d.buffered_io;
}

struct Planner {
    const KernelExport& whole;   // the tree, for what nvmfd's objects collide with
    const KernelExport& actual;  // only what the scope names
    const KernelExport& desired;
    const KernelExport& desired_all;  // also what the scope leaves out: a port's links stay to those
    const bool disrupt;
    std::vector<NvmetStep> out;
    std::vector<std::string> held;
    std::vector<std::string> refused;  // an admin's change that an object nvmfd does not manage stands in the way of
    std::set<uint16_t> moving;             // ports re-addressed by this plan
    std::set<uint16_t> held_ports;         // desired ports left alone (their address is still served)
    std::set<std::string> held_shapes;     // subsystems whose passthru/namespaces switch is held back

    void add(Kind k, std::string path, std::string value, std::string field) {
        out.push_back(NvmetStep{k, std::move(path), std::move(value), std::move(field)});
    }
    // A change hosts would notice: made only when allowed, else reported.
    bool may_disrupt(std::string what) {
        if (disrupt) return true;
        held.push_back(std::move(what));
        return false;
    }

    // Whether a port's address changes. nvmet takes address writes only on
    // a port with no subsystem linked, so a linked port's hosts are dropped;
    // a port with none (a change cut short) has no hosts to drop.
    bool moves(const KernelPort& a, const KernelPort* d) {
        if (!d || same_address(a, *d)) return false;
        if (a.subsystems.empty()) return true;
        return may_disrupt(fmt::format("port {}: the kernel serves {} {} {}, the state says {} {} {}", a.id, a.trtype,
                                       a.traddr, a.trsvcid, d->trtype, d->traddr, d->trsvcid));
    }

    // Serial and model of subsystems that exist, first of all: nvmet refuses
    // them for good once a host has identified the subsystem (EINVAL), and
    // that refusal must stop the plan before it has dropped anyone.
    void identities() {
        for (const KernelSubsystem& d : desired.subsystems)
            if (const KernelSubsystem* a = find_sub(actual, d.nqn)) {
                identity(a, sub_dir(d.nqn), d.serial, a->serial, "attr_serial", "serial");
                identity(a, sub_dir(d.nqn), d.model, a->model, "attr_model", "model");
            }
    }
    void identity(const KernelSubsystem* a, const std::string& dir, const std::string& want, const std::string& have,
                  const char* attr, const char* field) {
        if (want.empty() || (a && have == want)) return;
        if (a && !may_disrupt(fmt::format("{}: the kernel's {} is '{}', the state says '{}'", a->nqn, field, have, want)))
            return;
        add(Kind::Write, dir + "/" + attr, want, field);
    }

    // Links of ports to subsystems that go (each drops the port's hosts of
    // that subsystem; a port that moves loses them all).
    void unlink_ports() {
        for (const KernelPort& a : actual.ports) {
            const KernelPort* d = find_port(desired, a.id);
            const bool moved = moving.count(a.id) > 0;
            for (const std::string& nqn : a.subsystems) {
                const bool wanted = d && contains(d->subsystems, nqn) && find_sub(desired_all, nqn);
                if (moved || (!wanted && may_disrupt(fmt::format("port {}: {} is linked, the state says not", a.id, nqn))))
                    add(Kind::Unlink, port_dir(a.id) + "/subsystems/" + nqn, "", "subsystems");
            }
        }
    }

    // Whether `a` still serves its address once the plan's unlinks and
    // removals are done (a port held back does).
    bool still_serves(const KernelPort& a) const {
        if (a.subsystems.empty() || moving.count(a.id)) return false;
        if (disrupt && !find_port(desired, a.id)) return false;  // removed
        if (!disrupt) return true;                               // nothing linked is unlinked
        const KernelPort* d = find_port(desired, a.id);
        for (const std::string& nqn : a.subsystems)
            if (contains(d->subsystems, nqn) && find_sub(desired_all, nqn)) return true;
        return false;
    }

    void remove_ports() {
        for (const KernelPort& a : actual.ports) {
            if (find_port(desired, a.id) || !may_disrupt(fmt::format("port {} is in the kernel, not in the state", a.id)))
                continue;
            for (const auto& [group, state] : a.ana_states)
                if (group != 1) add(Kind::RemoveDir, port_dir(a.id) + "/ana_groups/" + std::to_string(group), "", "ana_group");
            add(Kind::RemoveDir, port_dir(a.id), "", "port");
        }
    }

    void remove_subsystems() {
        for (const KernelSubsystem& a : actual.subsystems) {
            if (find_sub(desired, a.nqn) || !may_disrupt(fmt::format("{} is in the kernel, not in the state", a.nqn)))
                continue;
            for (const std::string& h : a.hosts) add(Kind::Unlink, sub_dir(a.nqn) + "/allowed_hosts/" + h, "", "hosts");
            for (const KernelNamespace& n : a.namespaces) add(Kind::RemoveDir, ns_dir(a.nqn, n.nsid), "", "nsid");
            if (!a.passthru_device.empty()) add(Kind::Write, sub_dir(a.nqn) + "/passthru/enable", "0", "passthru");
            add(Kind::RemoveDir, sub_dir(a.nqn), "", "nqn");
        }
    }

    // Whether a namespace that stays may take its new device settings: it
    // is disabled for that, which fails the I/O hosts have in flight.
    bool may_rewrite(const std::string& nqn, const KernelNamespace& a, const KernelNamespace& d) {
        if (!needs_disable(a, d)) return false;
        if (!a.enabled) return true;  // nothing to disturb (a change cut short)
        return may_disrupt(fmt::format("{} namespace {}: the kernel serves {}, the state says {}", nqn, a.nsid,
                                       a.device_path, d.device_path));
    }

    // A subsystem's passthru controller or its namespaces changing place
    // (nvmet serves one or the other) is one change, held back as a whole.
    void decide_shape(const KernelSubsystem& a, const KernelSubsystem& d) {
        const bool passthru_changes = a.passthru_device != d.passthru_device;
        const bool loses_namespaces = !d.passthru_device.empty() &&
                                      std::any_of(a.namespaces.begin(), a.namespaces.end(), [](auto& n) { return n.enabled; });
        if ((passthru_changes && !a.passthru_device.empty()) || loses_namespaces)
            if (!may_disrupt(fmt::format("{}: the kernel passes '{}' through, the state says '{}'", a.nqn,
                                         a.passthru_device, d.passthru_device)))
                held_shapes.insert(a.nqn);
    }

    // What must go or be disabled in a subsystem that stays, before its
    // new settings are written.
    void trim_subsystem(const KernelSubsystem& a, const KernelSubsystem& d) {
        const bool held_shape = held_shapes.count(a.nqn) > 0;
        for (const KernelNamespace& n : a.namespaces) {
            if (held_shape) break;
            const KernelNamespace* dn = d.passthru_device.empty() ? find_ns(&d, n.nsid) : nullptr;
            if (!dn) {
                if (!d.passthru_device.empty() ||
                    may_disrupt(fmt::format("{} namespace {} is in the kernel, not in the state", a.nqn, n.nsid)))
                    add(Kind::RemoveDir, ns_dir(a.nqn, n.nsid), "", "nsid");
            } else if (n.enabled && may_rewrite(a.nqn, n, *dn)) {
                add(Kind::Write, ns_dir(a.nqn, n.nsid) + "/enable", "0", "path");
            }
        }
        if (!held_shape && !a.passthru_device.empty() && a.passthru_device != d.passthru_device)
            add(Kind::Write, sub_dir(a.nqn) + "/passthru/enable", "0", "passthru");
        // Unlinking an allowed host only refuses its next connect.
        const auto keep = allowed(d);
        for (const std::string& h : a.hosts)
            if (!contains(keep, h)) add(Kind::Unlink, sub_dir(a.nqn) + "/allowed_hosts/" + h, "", "hosts");
    }

    // hosts/ is shared with what nvmfd does not manage: an entry may be
    // there already, or still be linked from a subsystem that is not nvmfd's.
    void make_hosts() {
        for (const std::string& h : desired.hosts)
            if (!contains(whole.hosts, h)) add(Kind::MakeDir, "hosts/" + h, "", "hosts");
    }
    bool used_elsewhere(const std::string& h) const {
        for (const KernelSubsystem& s : whole.subsystems)
            if (!find_sub(actual, s.nqn) && contains(s.hosts, h)) return true;
        return false;
    }

    void build_subsystem(const KernelSubsystem* a, const KernelSubsystem& d) {
        const std::string dir = sub_dir(d.nqn);
        if (!a) {
            add(Kind::MakeDir, dir, "", "nqn");
            identity(nullptr, dir, d.serial, "", "attr_serial", "serial");
            identity(nullptr, dir, d.model, "", "attr_model", "model");
        }
        const uint16_t min = a ? a->min_cntlid : kDefaultMinCntlid, max = a ? a->max_cntlid : kDefaultMaxCntlid;
        auto write_min = [&] {
            if (min != d.min_cntlid) add(Kind::Write, dir + "/attr_cntlid_min", std::to_string(d.min_cntlid), "min_cntlid");
        };
        auto write_max = [&] {
            if (max != d.max_cntlid) add(Kind::Write, dir + "/attr_cntlid_max", std::to_string(d.max_cntlid), "max_cntlid");
        };
        // nvmet keeps min <= max at every write.
        if (d.min_cntlid > max) write_max(), write_min();
        else write_min(), write_max();
        const bool any_now = a && a->allow_any_host;
        if (any_now && !d.allow_any_host) add(Kind::Write, dir + "/attr_allow_any_host", "0", "allow_any_host");
        for (const std::string& h : allowed(d))
            if (!a || !contains(a->hosts, h)) add(Kind::Link, dir + "/allowed_hosts/" + h, "hosts/" + h, "hosts");
        if (!any_now && d.allow_any_host) add(Kind::Write, dir + "/attr_allow_any_host", "1", "allow_any_host");
        if (held_shapes.count(d.nqn)) return;
        if (d.passthru_device.empty()) {
            for (const KernelNamespace& n : d.namespaces) build_namespace(d.nqn, find_ns(a, n.nsid), n);
        } else if (!a || a->passthru_device != d.passthru_device) {
            add(Kind::Write, dir + "/passthru/device_path", d.passthru_device, "passthru");
            add(Kind::Write, dir + "/passthru/enable", "1", "passthru");
        }
    }

    void build_namespace(const std::string& nqn, const KernelNamespace* a, const KernelNamespace& d) {
        const std::string dir = ns_dir(nqn, d.nsid);
        // Whether it may be rewritten was asked (and reported) in
        // trim_subsystem already: the same question, without reporting.
        const bool fresh = !a, reenable = a && (!a->enabled || (needs_disable(*a, d) && disrupt));
        if (fresh) add(Kind::MakeDir, dir, "", "nsid");
        if (fresh || reenable) {
            if (fresh || a->device_path != d.device_path) add(Kind::Write, dir + "/device_path", d.device_path, "path");
            if (!d.uuid.empty() && (fresh || uuid_changes(*a, d))) add(Kind::Write, dir + "/device_uuid", d.uuid, "uuid");
            if (!d.nguid.empty() && (fresh || nguid_changes(*a, d)))
                add(Kind::Write, dir + "/device_nguid", d.nguid, "nguid");
            if (fresh ? d.buffered_io : a->buffered_io != d.buffered_io)
                add(Kind::Write, dir + "/buffered_io", d.buffered_io ? "1" : "0", "buffered_io");
        }
        // Taken while enabled (an ANA change event for the hosts); the
        // ports' groups exist by now.
        if (fresh ? d.ana_group != 1 : a->ana_group != d.ana_group)
            add(Kind::Write, dir + "/ana_grpid", std::to_string(d.ana_group), "ana_group");
        if (fresh || reenable) add(Kind::Write, dir + "/enable", "1", "path");
    }

    // A port's directory, address and ANA groups with their states, before
    // any namespace names a group (a group a port lacks is inaccessible
    // there) and before the port's first link.
    void prepare_port(const KernelPort* a, const KernelPort& d) {
        const std::string dir = port_dir(d.id);
        if (!a) {
            // nvmet refuses a second port on a served address (EADDRINUSE at
            // the link): one nvmfd does not manage always wins; one of its
            // own that this plan leaves alone wins at start.
            for (const KernelPort& other : whole.ports) {
                if (other.id == d.id || other.subsystems.empty() || !serve_same_address(other, d)) continue;
                const bool mine = find_port(actual, other.id) != nullptr;
                if (mine && !still_serves(other)) continue;
                const std::string what = fmt::format("port {}: {} {} {} is still served by port {}{}", d.id, d.trtype,
                                                     d.traddr, d.trsvcid, other.id, mine ? "" : ", not nvmfd's");
                if (mine ? may_disrupt(what) : (disrupt ? refused.push_back(what) : held.push_back(what), false))
                    continue;
                held_ports.insert(d.id);
                return;
            }
            add(Kind::MakeDir, dir, "", "port");
        }
        if (!a || moving.count(d.id)) {
            // Only what the transport uses: nvmet refuses an empty value.
            add(Kind::Write, dir + "/addr_trtype", d.trtype, "transport");
            if (!d.adrfam.empty()) add(Kind::Write, dir + "/addr_adrfam", d.adrfam, "family");
            if (!d.traddr.empty()) add(Kind::Write, dir + "/addr_traddr", d.traddr, "address");
            if (!d.trsvcid.empty()) add(Kind::Write, dir + "/addr_trsvcid", d.trsvcid, "service");
        }
        for (const auto& [group, state] : d.ana_states) {
            const std::string gdir = dir + "/ana_groups/" + std::to_string(group);
            const auto known = a ? a->ana_states.find(group) : d.ana_states.end();
            const bool exists = group == 1 || (a && known != a->ana_states.end());
            if (!exists) add(Kind::MakeDir, gdir, "", "ana_group");
            const std::string now = a && known != a->ana_states.end() ? known->second
                                    : group == 1                      ? kGroupOneState
                                                                      : kNewGroupState;
            if (now != state) add(Kind::Write, gdir + "/ana_state", state, "ana_state");
        }
    }

    // The links, once the subsystems are ready; then the groups the port no
    // longer has (their namespaces have moved to others by now).
    void finish_port(const KernelPort* a, const KernelPort& d) {
        if (held_ports.count(d.id)) return;
        const std::string dir = port_dir(d.id);
        for (const std::string& nqn : d.subsystems)
            if (!a || moving.count(d.id) || !contains(a->subsystems, nqn))
                add(Kind::Link, dir + "/subsystems/" + nqn, sub_dir(nqn), "subsystems");
        if (a)
            for (const auto& [group, state] : a->ana_states)
                if (group != 1 && !d.ana_states.count(group) &&
                    may_disrupt(fmt::format("port {}: ANA group {} is in the kernel, not in the state", d.id, group)))
                    add(Kind::RemoveDir, dir + "/ana_groups/" + std::to_string(group), "", "ana_group");
    }

    void remove_hosts() {
        for (const std::string& h : actual.hosts)
            if (!contains(desired.hosts, h) && !used_elsewhere(h)) add(Kind::RemoveDir, "hosts/" + h, "", "hosts");
    }

    void run() {
        // Whether each port moves is decided (and reported) once, and so is
        // each subsystem's passthru/namespaces switch.
        for (const KernelPort& a : actual.ports)
            if (moves(a, find_port(desired, a.id))) moving.insert(a.id);
        identities();
        for (const KernelSubsystem& d : desired.subsystems)
            if (const KernelSubsystem* a = find_sub(actual, d.nqn)) decide_shape(*a, d);
        unlink_ports();
        remove_ports();
        remove_subsystems();
        for (const KernelSubsystem& d : desired.subsystems)
            if (const KernelSubsystem* a = find_sub(actual, d.nqn)) trim_subsystem(*a, d);
        make_hosts();
        for (const KernelPort& d : desired.ports) prepare_port(find_port(actual, d.id), d);
        for (const KernelSubsystem& d : desired.subsystems) build_subsystem(find_sub(actual, d.nqn), d);
        for (const KernelPort& d : desired.ports) finish_port(find_port(actual, d.id), d);
        // Host entries no subsystem names are harmless: removed on an
        // admin's change only.
        if (disrupt) remove_hosts();
    }
};

// Only what nvmfd manages, so that nothing else is compared or touched.
KernelExport in_scope(const KernelExport& e, const NvmetScope& scope) {
    KernelExport out;
    for (const KernelSubsystem& s : e.subsystems)
        if (scope.subsystems.count(s.nqn)) out.subsystems.push_back(s);
    for (const KernelPort& p : e.ports)
        if (scope.ports.count(p.id)) out.ports.push_back(p);
    for (const std::string& h : e.hosts)
        if (scope.hosts.count(h)) out.hosts.push_back(h);
    return out;
}

std::string lower_hex(std::string_view text, bool keep_dashes) {
    std::string s;
    for (char c : text) {
        if (c == '-' && !keep_dashes) continue;
        s += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return s;
}

}  // namespace

std::string normalized_nguid(std::string_view text) { return lower_hex(text, false); }
std::string normalized_uuid(std::string_view text) { return lower_hex(text, true); }

NvmetPlan plan_reconcile(const KernelExport& actual, const KernelExport& desired, const NvmetScope& scope,
                         NvmetPlanOptions options) {
    // Both sides only what the scope names: a change may name only the
    // objects it touches, and everything else stays as it is.
    const KernelExport mine = in_scope(actual, scope);
    const KernelExport wanted = in_scope(desired, scope);
    Planner p{actual, mine, wanted, desired, options.allow_disruptive, {}, {}, {}, {}, {}, {}};
    p.run();
    return NvmetPlan{std::move(p.out), std::move(p.held), std::move(p.refused)};
}

std::string describe(const NvmetStep& s) {
    switch (s.kind) {
    case NvmetStep::Kind::MakeDir: return "mkdir " + s.path;
    case NvmetStep::Kind::RemoveDir: return "rmdir " + s.path;
    case NvmetStep::Kind::Write: return "write " + s.path + " = " + s.value;
    case NvmetStep::Kind::Link: return "link " + s.path + " -> " + s.value;
    case NvmetStep::Kind::Unlink: return "unlink " + s.path;
    }
    return "?";
}

}  // namespace nvmfd::plugins::nvmet
