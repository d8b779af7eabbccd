// plugins/backend_nvmet against the fake nvmet tree (which refuses what the
// kernel refuses): an export is written in an order the kernel takes, reads
// back as itself, and a second reconcile changes nothing; changes touch only
// what changed; at start, what would drop hosts is held back and reported;
// objects nvmfd does not manage are never touched; the kernel's refusals
// come back as named errors.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdlib>

#include "plugins/backend_nvmet/nvmet_reconcile.hpp"
#include "tests/nvmet_configfs/fake_configfs.hpp"

using namespace nvmfd;
using namespace nvmfd::plugins::nvmet;
using nvmfd::test::FakeNvmetTree;
using nvmfd::test::FsOp;
using plugin::KernelExport;
using plugin::KernelNamespace;
using plugin::KernelPort;
using plugin::KernelSubsystem;

namespace {

const std::string kA = "nqn.2026-12.io.nvmfd:kernel-a";
const std::string kB = "nqn.2026-12.io.nvmfd:kernel-b";
const std::string kH1 = "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-0000000000h1";
const std::string kH2 = "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-0000000000h2";

KernelExport sample() {
    KernelExport e;
    KernelSubsystem a;
    a.nqn = kA;
    a.serial = "KA0001";
    a.model = "nvmfd kernel";
    a.min_cntlid = 10;
    a.max_cntlid = 20;
    a.hosts = {kH1, kH2};
    KernelNamespace n1;
    n1.nsid = 1;
    n1.device_path = "/dev/vdb";
    n1.uuid = "3b241101-e2bb-4255-8caf-4136c566a962";
    n1.nguid = "a1b2c3d4e5f60718293a4b5c6d7e8f90";
    KernelNamespace n2;
    n2.nsid = 2;
    n2.device_path = "/srv/a.img";
    n2.uuid = "7d444840-9dc0-11d1-b245-5ffdce74fad2";
    n2.nguid = "0f0e0d0c0b0a09080706050403020100";
    n2.buffered_io = true;
    n2.ana_group = 2;
    a.namespaces = {n1, n2};
    KernelSubsystem b;
    b.nqn = kB;
    b.allow_any_host = true;
    b.passthru_device = "/dev/nvme0";
    e.subsystems = {a, b};
    KernelPort p;
    p.id = 1;
    p.trtype = "tcp";
    p.adrfam = "ipv4";
    p.traddr = "127.0.0.1";
    p.trsvcid = "4420";
    p.subsystems = {kA, kB};
    p.ana_states = {{1, "optimized"}, {2, "non-optimized"}};
    e.ports = {p};
    e.hosts = {kH1, kH2};
    return e;
}

NvmetScope scope_of(const KernelExport& e) {
    NvmetScope s;
    for (const auto& x : e.subsystems) s.subsystems.insert(x.nqn);
    for (const auto& p : e.ports) s.ports.insert(p.id);
    for (const auto& h : e.hosts) s.hosts.insert(h);
    return s;
}

NvmetScope both(const KernelExport& a, const KernelExport& b) {
    NvmetScope s = scope_of(a), t = scope_of(b);
    s.subsystems.insert(t.subsystems.begin(), t.subsystems.end());
    s.ports.insert(t.ports.begin(), t.ports.end());
    s.hosts.insert(t.hosts.begin(), t.hosts.end());
    return s;
}

// Applies `next`; then the tree reads back with nothing left to do.
NvmetPlan settle(Configfs& fs, const KernelExport& next, const NvmetScope& scope, NvmetPlanOptions o = {}) {
    auto r = reconcile(fs, next, scope, o);
    REQUIRE_MESSAGE(r, r.error().describe());
    auto back = read_kernel_export(fs);
    REQUIRE_MESSAGE(back, back.error().describe());
    auto again = plan_reconcile(*back, next, scope, o);
    INFO("left to do: " << (again.steps.empty() ? std::string("nothing") : describe(again.steps[0])));
    CHECK(again.steps.empty());
    return *r;
}

// The fake with the sample's devices, and the sample written into it.
struct Served {
    FakeNvmetTree t;
    KernelExport e = sample();
    Served() {
        t.ops->devices = {"/dev/vdb", "/srv/a.img", "/srv/b.img", "/dev/nvme0"};
        auto r = reconcile(*t.fs, e, scope_of(e));
        REQUIRE_MESSAGE(r, r.error().describe());
    }
    KernelExport read() {
        auto r = read_kernel_export(*t.fs);
        REQUIRE_MESSAGE(r, r.error().describe());
        return *r;
    }
    // Applies `next`; then nothing is left to do, whatever the change.
    NvmetPlan change(const KernelExport& next, NvmetPlanOptions o = {}) {
        NvmetPlan p = settle(*t.fs, next, both(e, next), o);
        e = next;
        return p;
    }
    NvmetPlan start(const KernelExport& state) {
        auto r = reconcile(*t.fs, state, scope_of(state), NvmetPlanOptions{.allow_disruptive = false});
        REQUIRE_MESSAGE(r, r.error().describe());
        return *r;
    }
};

// How the tree reads back what was written: NGUIDs without dashes, and the
// kernel's own serial and model where the export left them to it.
KernelExport as_read(KernelExport e) {
    for (auto& s : e.subsystems) {
        if (s.serial.empty()) s.serial = "5d1f7c2a9b3e4f60a1b2";  // the fake's nvmet default
        if (s.model.empty()) s.model = "Linux";
        for (auto& n : s.namespaces) n.nguid = normalized_nguid(n.nguid);
    }
    return e;
}

std::vector<std::string> lines(const NvmetPlan& p) {
    std::vector<std::string> out;
    for (const auto& s : p.steps) out.push_back(describe(s));
    return out;
}

bool has(const std::vector<std::string>& v, const std::string& x) { return std::find(v.begin(), v.end(), x) != v.end(); }

size_t index_of(const std::vector<std::string>& v, const std::string& x) {
    auto it = std::find(v.begin(), v.end(), x);
    REQUIRE_MESSAGE(it != v.end(), "no step '" << x << "'");
    return size_t(it - v.begin());
}

}  // namespace

TEST_CASE("nvmet: an export is written in an order the kernel takes and reads back as itself") {
    Served s;
    KernelExport back = s.read();
    CHECK(back == as_read(s.e));
    CHECK(s.t.ops->value("subsystems/" + kA + "/attr_serial") == "KA0001              ");  // padded, read trimmed
    CHECK(s.t.ops->value("ports/1/ana_groups/2/ana_state") == "non-optimized");

    // Nothing left to do: no write, no link, no mkdir.
    auto again = plan_reconcile(back, s.e, scope_of(s.e));
    CHECK(again.steps.empty());
    CHECK(again.held_back.empty());
}

TEST_CASE("nvmet: the order of a fresh export: hosts, identity, namespaces enabled last, ANA groups before links") {
    KernelExport empty;
    empty.hosts = {};
    auto plan = plan_reconcile(empty, sample(), scope_of(sample()));
    auto l = lines(plan);
    const std::string a = "subsystems/" + kA;
    CHECK(index_of(l, "mkdir hosts/" + kH1) < index_of(l, "link " + a + "/allowed_hosts/" + kH1 + " -> hosts/" + kH1));
    CHECK(index_of(l, "write " + a + "/attr_serial = KA0001") < index_of(l, "link ports/1/subsystems/" + kA + " -> " + a));
    // min 10 after max 20? No: moving down from the default 1..65519, min first.
    CHECK(index_of(l, "write " + a + "/attr_cntlid_min = 10") < index_of(l, "write " + a + "/attr_cntlid_max = 20"));
    CHECK(index_of(l, "write " + a + "/namespaces/2/buffered_io = 1") < index_of(l, "write " + a + "/namespaces/2/enable = 1"));
    CHECK(index_of(l, "write ports/1/ana_groups/2/ana_state = non-optimized") <
          index_of(l, "link ports/1/subsystems/" + kA + " -> " + a));
    CHECK(has(l, "write subsystems/" + kB + "/attr_allow_any_host = 1"));
    CHECK(has(l, "write subsystems/" + kB + "/passthru/enable = 1"));
    CHECK_FALSE(has(l, "write ports/1/ana_groups/1/ana_state = optimized"));  // group 1 starts optimized
}

TEST_CASE("nvmet: a change touches only what changed") {
    Served s;
    SUBCASE("a namespace's file: disabled, rewritten, enabled; nothing else") {
        KernelExport next = s.e;
        next.subsystems[0].namespaces[1].device_path = "/srv/b.img";
        auto l = lines(s.change(next));
        const std::string ns = "subsystems/" + kA + "/namespaces/2";
        CHECK(l == std::vector<std::string>{"write " + ns + "/enable = 0", "write " + ns + "/device_path = /srv/b.img",
                                            "write " + ns + "/enable = 1"});
    }
    SUBCASE("an ANA state: one write, the port stays linked") {
        KernelExport next = s.e;
        next.ports[0].ana_states[2] = "inaccessible";
        CHECK(lines(s.change(next)) == std::vector<std::string>{"write ports/1/ana_groups/2/ana_state = inaccessible"});
    }
    SUBCASE("the port's address: unlinked, rewritten, linked again") {
        KernelExport next = s.e;
        next.ports[0].trsvcid = "4421";
        auto l = lines(s.change(next));
        CHECK(index_of(l, "unlink ports/1/subsystems/" + kA) < index_of(l, "write ports/1/addr_trsvcid = 4421"));
        CHECK(index_of(l, "write ports/1/addr_trsvcid = 4421") <
              index_of(l, "link ports/1/subsystems/" + kA + " -> subsystems/" + kA));
        CHECK(s.read() == as_read(s.e));
    }
    SUBCASE("allowed hosts to any host and back") {
        KernelExport any = s.e;
        any.subsystems[0].allow_any_host = true;
        any.subsystems[0].hosts = {};
        any.hosts = {};
        auto l = lines(s.change(any));
        CHECK(index_of(l, "unlink subsystems/" + kA + "/allowed_hosts/" + kH1) <
              index_of(l, "write subsystems/" + kA + "/attr_allow_any_host = 1"));
        CHECK(has(l, "rmdir hosts/" + kH2));  // no subsystem names it any more
        CHECK(s.read() == as_read(s.e));
        KernelExport back = sample();
        auto l2 = lines(s.change(back));
        CHECK(index_of(l2, "write subsystems/" + kA + "/attr_allow_any_host = 0") <
              index_of(l2, "link subsystems/" + kA + "/allowed_hosts/" + kH1 + " -> hosts/" + kH1));
        CHECK(s.read() == as_read(s.e));
    }
    SUBCASE("the controller ID range moved up: max before min") {
        KernelExport next = s.e;
        next.subsystems[0].min_cntlid = 30;
        next.subsystems[0].max_cntlid = 40;
        CHECK(lines(s.change(next)) == std::vector<std::string>{"write subsystems/" + kA + "/attr_cntlid_max = 40",
                                                                "write subsystems/" + kA + "/attr_cntlid_min = 30"});
    }
    SUBCASE("a subsystem removed: off the port, its hosts and namespaces, then itself") {
        KernelExport next = s.e;
        next.subsystems.erase(next.subsystems.begin());
        next.ports[0].subsystems = {kB};
        next.ports[0].ana_states.erase(2);
        next.hosts = {};
        s.change(next);
        CHECK(s.read() == as_read(s.e));
        CHECK_FALSE(s.t.fs->exists("subsystems/" + kA));
        CHECK_FALSE(s.t.fs->exists("ports/1/ana_groups/2"));
        CHECK(s.t.fs->exists("ports/1/subsystems/" + kB));
    }
    SUBCASE("passthru given up for namespaces of its own") {
        KernelExport next = s.e;
        next.subsystems[1].passthru_device.clear();
        KernelNamespace n;
        n.nsid = 1;
        n.device_path = "/srv/b.img";
        n.uuid = "11111111-2222-4333-8444-555555555555";
        next.subsystems[1].namespaces = {n};
        s.change(next);
        KernelExport back = s.read();
        CHECK(back.subsystems[1].passthru_device.empty());
        REQUIRE(back.subsystems[1].namespaces.size() == 1);
        CHECK(back.subsystems[1].namespaces[0].enabled);
    }
}

TEST_CASE("nvmet: at start, what hosts would notice is held back and reported; the rest is repaired") {
    Served s;
    const std::string ns = "subsystems/" + kA + "/namespaces/2";
    // What the kernel holds drifted from the state: another file under an
    // enabled namespace, another port address, a link the state lacks, an
    // identity the kernel has locked; and a namespace a crash left disabled.
    KernelExport state = s.e;
    state.subsystems[0].namespaces[1].device_path = "/srv/b.img";
    state.ports[0].trsvcid = "4430";
    state.ports[0].subsystems = {kA};
    state.subsystems[0].serial = "OTHER";
    REQUIRE(s.t.fs->write("subsystems/" + kA + "/namespaces/1/enable", "0"));
    REQUIRE(s.t.fs->write("ports/1/ana_groups/1/ana_state", "inaccessible"));

    auto r = reconcile(*s.t.fs, state, scope_of(state), NvmetPlanOptions{.allow_disruptive = false});
    REQUIRE_MESSAGE(r, r.error().describe());
    auto l = lines(*r);
    CHECK(l == std::vector<std::string>{"write ports/1/ana_groups/1/ana_state = optimized",
                                        "write subsystems/" + kA + "/namespaces/1/enable = 1"});
    REQUIRE(r->held_back.size() == 4);
    CHECK(r->held_back[0] == "port 1: the kernel serves tcp 127.0.0.1 4420, the state says tcp 127.0.0.1 4430");
    CHECK(r->held_back[1] == kA + ": the kernel's serial is 'KA0001', the state says 'OTHER'");
    CHECK(r->held_back[2] == "port 1: " + kB + " is linked, the state says not");
    CHECK(r->held_back[3] == kA + " namespace 2: the kernel serves /srv/a.img, the state says /srv/b.img");
    CHECK(s.t.ops->value(ns + "/device_path") == "/srv/a.img");
    CHECK(s.t.ops->value("ports/1/addr_trsvcid") == "4420");
}

TEST_CASE("nvmet: at start, changes cut short are finished and whole changes held back") {
    Served s;
    SUBCASE("a port unlinked for a new address before the crash: it has no hosts, so it moves") {
        REQUIRE(s.t.fs->unlink("ports/1/subsystems/" + kA));
        REQUIRE(s.t.fs->unlink("ports/1/subsystems/" + kB));
        KernelExport state = s.e;
        state.ports[0].trsvcid = "4421";
        auto r = s.start(state);
        CHECK(r.held_back.empty());
        CHECK(s.t.ops->value("ports/1/addr_trsvcid") == "4421");
        CHECK(s.t.fs->exists("ports/1/subsystems/" + kA));
    }
    SUBCASE("namespaces to passthru: held back as one change, nothing refused") {
        s.t.ops->devices.insert("/dev/nvme1");
        KernelExport state = s.e;
        state.subsystems[0].passthru_device = "/dev/nvme1";
        state.subsystems[0].namespaces.clear();
        auto r = s.start(state);
        REQUIRE(r.held_back.size() == 1);
        CHECK(r.held_back[0] == kA + ": the kernel passes '' through, the state says '/dev/nvme1'");
        CHECK(s.t.ops->value("subsystems/" + kA + "/passthru/enable") == "0");
        CHECK(s.t.ops->value("subsystems/" + kA + "/namespaces/1/enable") == "1");
    }
    SUBCASE("an ANA group the state dropped: held back, the namespace moved to group 1") {
        KernelExport state = s.e;
        state.ports[0].ana_states.erase(2);
        state.subsystems[0].namespaces[1].ana_group = 1;
        auto r = s.start(state);
        CHECK(lines(r) == std::vector<std::string>{"write subsystems/" + kA + "/namespaces/2/ana_grpid = 1"});
        REQUIRE(r.held_back.size() == 1);
        CHECK(r.held_back[0] == "port 1: ANA group 2 is in the kernel, not in the state");
        CHECK(s.t.fs->exists("ports/1/ana_groups/2"));
    }
    SUBCASE("a new port on an address an old port still serves: held back, no EADDRINUSE") {
        KernelExport state = s.e;
        state.ports[0].id = 2;
        // The crash came between persisting the state (port 2) and changing
        // the kernel: port 1 is not in the state, so not nvmfd's any more.
        auto r = s.start(state);
        CHECK(r.steps.empty());
        REQUIRE(r.held_back.size() == 1);
        CHECK(r.held_back[0] == "port 2: tcp 127.0.0.1 4420 is still served by port 1, not nvmfd's");
        CHECK_FALSE(s.t.fs->exists("ports/2"));
        // Both in scope (the state had both): port 1 is nvmfd's, left alone at start.
        auto both_ports = reconcile(*s.t.fs, state, both(s.e, state), NvmetPlanOptions{.allow_disruptive = false});
        REQUIRE(both_ports);
        CHECK(both_ports->steps.empty());
        CHECK(std::find(both_ports->held_back.begin(), both_ports->held_back.end(),
                        "port 2: tcp 127.0.0.1 4420 is still served by port 1") != both_ports->held_back.end());
        // An admin's change moves it: port 1 goes, port 2 serves.
        s.change(state);
        CHECK_FALSE(s.t.fs->exists("ports/1"));
        CHECK(s.t.fs->exists("ports/2/subsystems/" + kA));
    }
}

TEST_CASE("nvmet: a namespace moved to a group new on the port: the group and its state first") {
    Served s;
    KernelExport next = s.e;
    next.ports[0].ana_states[3] = "optimized";
    next.subsystems[0].namespaces[0].ana_group = 3;
    auto l = lines(s.change(next));
    CHECK(index_of(l, "mkdir ports/1/ana_groups/3") < index_of(l, "write ports/1/ana_groups/3/ana_state = optimized"));
    CHECK(index_of(l, "write ports/1/ana_groups/3/ana_state = optimized") <
          index_of(l, "write subsystems/" + kA + "/namespaces/1/ana_grpid = 3"));
}

TEST_CASE("nvmet: a loop port and an FC port: only the address fields they use are written") {
    Served s;
    KernelExport next = s.e;
    KernelPort loop;
    loop.id = 5;
    loop.trtype = "loop";
    loop.subsystems = {kB};
    loop.ana_states = {{1, "optimized"}};
    KernelPort fc;
    fc.id = 6;
    fc.trtype = "fc";
    fc.adrfam = "fc";
    fc.traddr = "nn-0x10001100ab000001:pn-0x20001100ab000001";
    fc.subsystems = {kB};
    fc.ana_states = {{1, "optimized"}};
    next.ports.push_back(loop);
    next.ports.push_back(fc);
    auto l = lines(s.change(next));  // the fake refuses empty and unknown address values, as nvmet does
    CHECK(has(l, "write ports/5/addr_trtype = loop"));
    CHECK_FALSE(has(l, "write ports/5/addr_adrfam = "));
    CHECK_FALSE(has(l, "write ports/6/addr_trsvcid = "));
}

TEST_CASE("nvmet: what nvmfd does not manage is never touched") {
    Served s;
    // An admin's own subsystem, port and host, made with nvmetcli.
    REQUIRE(s.t.fs->make_dir("hosts/nqn.2014-08.org.nvmexpress:uuid:foreign"));
    REQUIRE(s.t.fs->make_dir("subsystems/nqn.2026-12.example:foreign"));
    REQUIRE(s.t.fs->make_dir("ports/7"));
    REQUIRE(s.t.fs->write("ports/7/addr_trtype", "loop"));
    REQUIRE(s.t.fs->link("subsystems/nqn.2026-12.example:foreign", "ports/7/subsystems/nqn.2026-12.example:foreign"));

    // It also allows one of nvmfd's hosts, and nvmfd is to allow one the
    // admin made: hosts/ is shared.
    REQUIRE(s.t.fs->link("hosts/" + kH1, "subsystems/nqn.2026-12.example:foreign/allowed_hosts/" + kH1));
    REQUIRE(s.t.fs->link("hosts/nqn.2014-08.org.nvmexpress:uuid:foreign",
                         "subsystems/nqn.2026-12.example:foreign/allowed_hosts/nqn.2014-08.org.nvmexpress:uuid:foreign"));
    KernelExport more = s.e;
    more.subsystems[0].hosts.push_back("nqn.2014-08.org.nvmexpress:uuid:foreign");
    std::sort(more.subsystems[0].hosts.begin(), more.subsystems[0].hosts.end());
    more.hosts = more.subsystems[0].hosts;
    s.change(more);  // no EEXIST for the admin's host

    KernelExport none;  // nvmfd gives up all of its own
    auto r = reconcile(*s.t.fs, none, scope_of(s.e));  // no EBUSY for the host the admin still uses
    REQUIRE_MESSAGE(r, r.error().describe());
    for (const auto& step : r->steps) {
        CHECK(step.path.find("example:foreign") == std::string::npos);
        CHECK(step.path.find("ports/7") == std::string::npos);
        CHECK(step.path != "hosts/nqn.2014-08.org.nvmexpress:uuid:foreign");
    }
    KernelExport left = s.read();
    REQUIRE(left.subsystems.size() == 1);
    CHECK(left.subsystems[0].nqn == "nqn.2026-12.example:foreign");
    REQUIRE(left.ports.size() == 1);
    CHECK(left.ports[0].id == 7);
    CHECK(left.hosts == std::vector<std::string>{kH1, "nqn.2014-08.org.nvmexpress:uuid:foreign"});
}

TEST_CASE("nvmet: the kernel's refusals come back as named errors") {
    SUBCASE("an identity a host has seen: InvalidArgument on serial") {
        Served s;
        s.t.ops->discovered.insert(kA);
        KernelExport next = s.e;
        next.subsystems[0].serial = "KA0002";
        auto r = reconcile(*s.t.fs, next, scope_of(next));
        REQUIRE_FALSE(r);
        CHECK(r.error().code == ErrorCode::InvalidArgument);
        CHECK(r.error().field == "serial");
    }
    SUBCASE("a namespace on a file that is not there: NotFound on path") {
        FakeNvmetTree t;
        KernelExport e = sample();
        e.subsystems.resize(1);
        e.ports[0].subsystems = {kA};
        t.ops->devices = {"/dev/vdb"};  // /srv/a.img is missing
        auto r = reconcile(*t.fs, e, scope_of(e));
        REQUIRE_FALSE(r);
        CHECK(r.error().code == ErrorCode::NotFound);
        CHECK(r.error().field == "path");
        CHECK(r.error().message.find("namespaces/2/enable") != std::string::npos);
    }
    SUBCASE("a second port on an address that is served: Busy on subsystems") {
        Served s;
        KernelExport next = s.e;
        KernelPort twin = next.ports[0];
        twin.id = 2;
        twin.subsystems = {kB};
        twin.ana_states = {{1, "optimized"}};
        next.ports.push_back(twin);
        auto r = reconcile(*s.t.fs, next, both(s.e, next));
        REQUIRE_FALSE(r);
        CHECK(r.error().code == ErrorCode::Busy);
        CHECK(r.error().field == "subsystems");
    }
    SUBCASE("a refusal the fake injects: EBUSY writing a device path") {
        FakeNvmetTree t;
        t.ops->devices = {"/dev/vdb", "/srv/a.img", "/dev/nvme0"};
        t.ops->refuse(FsOp::Write, "subsystems/" + kA + "/namespaces/1/device_path", EBUSY);
        auto r = reconcile(*t.fs, sample(), scope_of(sample()));
        REQUIRE_FALSE(r);
        CHECK(r.error().code == ErrorCode::Busy);
        CHECK(r.error().field == "path");
    }
}

// --- against the kernel's own tree -----------------------------------------
// The same logic on a real nvmet configfs tree: these cases run where
// NVMFD_NVMET_ROOT names one (the interop guest's /sys/kernel/config/nvmet,
// tests/interop/guest/nvmet-reconcile.sh), with NVMFD_NVMET_FILES a
// directory for the namespaces' backing files and NVMFD_NVMET_HOSTNQN the
// NQN the guest's host connects with; elsewhere they say so and pass.
// "serve" leaves its export in place for the script to connect to;
// "clean up" takes it away again.
namespace {

struct RealTree {
    std::string root, files, hostnqn;
    std::unique_ptr<Configfs> fs;
    bool present() {
        const char* r = std::getenv("NVMFD_NVMET_ROOT");
        const char* f = std::getenv("NVMFD_NVMET_FILES");
        const char* h = std::getenv("NVMFD_NVMET_HOSTNQN");
        if (!r || !f || !h) {
            MESSAGE("no nvmet tree here (NVMFD_NVMET_ROOT unset): run by tests/interop/guest/nvmet-reconcile.sh");
            return false;
        }
        root = r, files = f, hostnqn = h;
        fs = std::make_unique<Configfs>(root);
        return true;
    }
    // Files on tmpfs: nvmet opens them O_DIRECT unless buffered_io.
    KernelExport export_() const {
        KernelExport e = sample();
        auto& a = e.subsystems[0];
        a.hosts = {hostnqn, kH1};
        std::sort(a.hosts.begin(), a.hosts.end());
        a.namespaces[0].device_path = files + "/ns1.img";
        a.namespaces[0].buffered_io = true;
        a.namespaces[1].device_path = files + "/ns2.img";
        auto& b = e.subsystems[1];
        b.serial = "KB0001";
        b.model = "nvmfd kernel b";
        b.passthru_device.clear();  // no NVMe controller in this guest
        KernelNamespace n;
        n.nsid = 1;
        n.device_path = files + "/ns3.img";
        n.uuid = "5f3c8a2e-1b4d-4c6e-8f7a-9b0c1d2e3f40";
        n.nguid = "00112233445566778899aabbccddeeff";
        n.buffered_io = true;
        b.namespaces = {n};
        e.hosts = a.hosts;
        return e;
    }
    KernelExport read() const {
        auto r = read_kernel_export(*fs);
        REQUIRE_MESSAGE(r, r.error().describe());
        return *r;
    }
    void apply(const KernelExport& next, const KernelExport& before) { settle(*fs, next, both(before, next)); }
};

}  // namespace

TEST_CASE("nvmet against the kernel: serve (write, change, repair, and leave the export in place)") {
    RealTree k;
    if (!k.present()) return;
    const KernelExport e = k.export_();
    k.apply(e, e);
    CHECK(k.read().subsystems.size() >= 2);

    KernelExport next = e;
    next.subsystems[0].namespaces[1].device_path = k.files + "/ns3.img";  // one file in two namespaces: nvmet takes it
    next.ports[0].ana_states[2] = "inaccessible";
    next.subsystems[0].min_cntlid = 30;
    next.subsystems[0].max_cntlid = 40;
    k.apply(next, e);
    KernelExport moved = next;
    moved.ports[0].trsvcid = "4421";
    k.apply(moved, next);
    KernelExport any = moved;
    any.subsystems[0].allow_any_host = true;
    any.subsystems[0].hosts.clear();
    any.hosts.clear();
    k.apply(any, moved);
    k.apply(e, any);  // and back

    // What a crash can leave: a namespace disabled, an ANA state half set;
    // and a drift hosts would notice, which a start leaves alone.
    REQUIRE(k.fs->write("subsystems/" + kA + "/namespaces/1/enable", "0"));
    REQUIRE(k.fs->write("ports/1/ana_groups/2/ana_state", "change"));
    KernelExport state = e;
    state.subsystems[0].namespaces[1].device_path = k.files + "/ns3.img";
    auto r = reconcile(*k.fs, state, scope_of(state), NvmetPlanOptions{.allow_disruptive = false});
    REQUIRE_MESSAGE(r, r.error().describe());
    CHECK(r->held_back.size() == 1);
    KernelExport back = k.read();
    CHECK(back.subsystems[0].namespaces[0].enabled);
    CHECK(back.ports[0].ana_states.at(2) == "non-optimized");
    CHECK(back.subsystems[0].namespaces[1].device_path == k.files + "/ns2.img");
}

TEST_CASE("nvmet against the kernel: clean up") {
    RealTree k;
    if (!k.present()) return;
    const KernelExport e = k.export_();
    auto r = reconcile(*k.fs, KernelExport{}, scope_of(e));
    REQUIRE_MESSAGE(r, r.error().describe());
    KernelExport left = k.read();
    for (const auto& s : left.subsystems) CHECK(s.nqn != kA);
    for (const auto& s : left.subsystems) CHECK(s.nqn != kB);
    for (const auto& p : left.ports) CHECK(p.id != 1);
    CHECK(left.hosts.empty());
}
