// The control API with kernel-served subsystems and ports (issue 12): the
// calls nvmfctl, D-Bus and Lua make, against the fake nvmet tree. What the
// kernel is given, the rules that refuse what it cannot serve, a refusal
// that leaves the state and the tree as they were, and the start after a
// crash (repairs, held-back drift, objects a crash left behind).
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/control/control.hpp"
#include "core/runtime/log.hpp"
#include "plugins/backend_nvmet/nvmet_kernel_target.hpp"
#include "plugins/backend_nvmet/nvmet_reconcile.hpp"
#include "tests/nvmet_configfs/fake_configfs.hpp"

namespace {

namespace fs = std::filesystem;
using namespace nvmfd;
using control::Control;
using control::DataPath;
using test::FakeConfigfsOps;
using test::FsOp;

constexpr const char* kSub = "nqn.2026-12.io.nvmfd:kernel1";
constexpr const char* kOther = "nqn.2026-12.io.nvmfd:kernel2";
constexpr const char* kHost = "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-0000-0000-000000000001";

std::string slurp(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// A control plane whose kernel target writes a fake nvmet tree; each
// open() is a start of nvmfd on the same state file and the same tree.
struct KernelFixture {
    fs::path dir;
    plugin::PluginLoader loader{NVMFD_TEST_PLUGIN_DIR};
    runtime::ReactorGroup reactors{1, runtime::ReactorOptions{.buffer_pool_bytes = 4u << 20}};
    target::Target target{reactors, {}};
    std::set<std::string> devices{"/srv/a.img", "/srv/b.img", "/dev/vdb"};
    FakeConfigfsOps* ops = nullptr;  // the current control's tree (after its first kernel change)
    std::unique_ptr<Control> control;

    KernelFixture() {
        log::set_level(log::Level::Warning);
        char tmpl[] = "/tmp/nvmfd-kernel-XXXXXX";
        dir = mkdtemp(tmpl);
        for (const char* d : {"subsystems", "ports", "hosts"}) fs::create_directories(root() / d);
        reactors.start();
        target.set_reactors_running(true);
        open();
    }
    ~KernelFixture() {
        control.reset();
        reactors.stop();
        fs::remove_all(dir);
    }
    fs::path root() const { return dir / "nvmet"; }
    fs::path state() const { return dir / "state.json"; }
    void open() {
        control.reset();
        ops = nullptr;
        control::ControlOptions o{state(), {}, false, {}, {}};
        o.kernel_target_factory = [this]() -> Result<std::unique_ptr<plugin::KernelTarget>> {
            auto fake = std::make_unique<FakeConfigfsOps>(root().string());
            fake->devices = devices;
            ops = fake.get();
            return plugins::nvmet::make_nvmet_kernel_target(
                std::make_unique<plugins::nvmet::Configfs>(root().string() + "/", std::move(fake)));
        };
        control = std::make_unique<Control>(target, loader, std::move(o));
    }
    void restart() {
        open();
        auto r = control->load_state();
        REQUIRE_MESSAGE(r, r.error().describe());
    }
    // The tree as nvmfd reads it, through plain file system calls.
    plugin::KernelExport tree() const {
        plugins::nvmet::Configfs plain(root().string() + "/");
        auto r = plugins::nvmet::read_kernel_export(plain);
        REQUIRE_MESSAGE(r, r.error().describe());
        return *r;
    }
    const plugin::KernelSubsystem* subsystem(const plugin::KernelExport& e, const std::string& nqn) const {
        for (const auto& s : e.subsystems)
            if (s.nqn == nqn) return &s;
        return nullptr;
    }
    std::string read(const std::string& rel) const { return slurp(root() / rel); }
    void write_raw(const std::string& rel, const std::string& value) const { std::ofstream(root() / rel) << value << "\n"; }

    // A subsystem an admin made with nvmetcli (not nvmfd): one enabled
    // namespace on `path`. Returns its directory under the tree.
    std::string admin_subsystem(const std::string& nqn, unsigned nsid, const std::string& path) {
        const std::string dir = "subsystems/" + nqn;
        const std::string ns = dir + "/namespaces/" + std::to_string(nsid);
        REQUIRE(ops->make_dir((root() / dir).string()) == 0);
        REQUIRE(ops->make_dir((root() / ns).string()) == 0);
        REQUIRE(ops->write_attr((root() / ns / "device_path").string(), path) == 0);
        REQUIRE(ops->write_attr((root() / ns / "enable").string(), "1") == 0);
        return dir;
    }

    // A kernel subsystem with one file namespace on a kernel TCP port.
    void serve(const std::string& nqn = kSub, const std::string& path = "/srv/a.img", uint16_t port = 1) {
        control::SubsystemSettings s;
        s.data_path = DataPath::Kernel;
        s.serial = "K1";
        must(control->add_subsystem(nqn, s));
        must(control->allow_host(nqn, kHost));
        must(control->add_namespace(nqn, kernel_ns(path)));
        if (!find_port(port)) {
            control::PortSettings p;
            p.id = port;
            p.data_path = DataPath::Kernel;
            p.address = "127.0.0.1";
            p.service = std::to_string(4419 + port);
            must(control->add_port(p));
        }
        must(control->link_subsystem(port, nqn));
    }
    bool find_port(uint16_t id) const {
        for (const auto& p : control->export_spec().ports)
            if (p.id == id) return true;
        return false;
    }
    static control::NamespaceSettings kernel_ns(const std::string& path, bool buffered = false) {
        control::NamespaceSettings n;
        n.backend = "kernel";
        n.params = {{"path", path}};
        if (buffered) n.params["buffered_io"] = "true";
        return n;
    }
    template <typename R>
    static void must(const R& r) {
        REQUIRE_MESSAGE(r, r.error().describe());
    }
};

bool mentions(const std::vector<std::string>& lines, const std::string& part) {
    for (const auto& l : lines)
        if (l.find(part) != std::string::npos) return true;
    return false;
}

// A call that fails with `code` on `field` and changes nothing: not the
// spec, not the state file, not the tree.
template <typename R>
void refused(KernelFixture& f, R&& call, ErrorCode code, const std::string& field) {
    const std::string file = slurp(f.state());
    const auto spec = f.control->export_spec();
    const auto tree = f.tree();
    auto r = call();
    REQUIRE_FALSE(r);
    CHECK_MESSAGE(r.error().code == code, r.error().describe());
    CHECK_MESSAGE(r.error().field == field, r.error().describe());
    CHECK(slurp(f.state()) == file);
    CHECK(f.control->export_spec().subsystems.size() == spec.subsystems.size());
    CHECK(f.tree() == tree);
}

}  // namespace

TEST_CASE("kernel data path: the control API's calls build the kernel's tree, and nvmfd does not serve it itself") {
    KernelFixture f;
    f.serve();
    control::SubsystemSettings narrow;
    narrow.min_cntlid = 10;
    narrow.max_cntlid = 19;
    f.must(f.control->set_subsystem(kSub, narrow));
    f.must(f.control->add_namespace(kSub, KernelFixture::kernel_ns("/dev/vdb", true)));
    f.must(f.control->add_ana_group(2));
    f.must(f.control->set_namespace_ana_group(kSub, 2, 2));
    f.must(f.control->set_ana_state(1, 2, proto::AnaState::NonOptimized));

    auto t = f.tree();
    const auto* s = f.subsystem(t, kSub);
    REQUIRE(s);
    CHECK(s->serial == "K1");
    CHECK(s->min_cntlid == 10);
    CHECK(s->max_cntlid == 19);
    CHECK_FALSE(s->allow_any_host);
    CHECK(s->hosts == std::vector<std::string>{kHost});
    REQUIRE(s->namespaces.size() == 2);
    CHECK(s->namespaces[0].device_path == "/srv/a.img");
    CHECK_FALSE(s->namespaces[0].buffered_io);
    CHECK(s->namespaces[0].enabled);
    CHECK(s->namespaces[1].device_path == "/dev/vdb");
    CHECK(s->namespaces[1].buffered_io);
    CHECK(s->namespaces[1].ana_group == 2);
    // The identifiers nvmfd generated and keeps are the kernel's too.
    const auto spec = f.control->export_spec();
    CHECK(plugins::nvmet::normalized_uuid(s->namespaces[0].uuid) == spec.subsystems[0].namespaces[0].uuid);
    CHECK(s->namespaces[0].nguid == spec.subsystems[0].namespaces[0].nguid);
    REQUIRE(t.ports.size() == 1);
    CHECK(t.ports[0].trtype == "tcp");
    CHECK(t.ports[0].traddr == "127.0.0.1");
    CHECK(t.ports[0].trsvcid == "4420");
    CHECK(t.ports[0].subsystems == std::vector<std::string>{kSub});
    // Every group the port's namespaces use is named: nvmet would make an unnamed one inaccessible.
    CHECK(t.ports[0].ana_states == std::map<uint32_t, std::string>{{1, "optimized"}, {2, "non-optimized"}});
    CHECK(t.hosts == std::vector<std::string>{kHost});
    CHECK(f.control->kernel_drift().empty());

    // nvmfd's own data path has none of it.
    auto snap = f.target.snapshot();
    CHECK(snap->subsystems.empty());
    CHECK(snap->ports.empty());

    // Taking it away again leaves the tree as it was before nvmfd came.
    f.must(f.control->remove_port(1, false));
    f.must(f.control->remove_subsystem(kSub, false));
    t = f.tree();
    CHECK(t.subsystems.empty());
    CHECK(t.ports.empty());
    CHECK(t.hosts.empty());
}

TEST_CASE("kernel data path: what the kernel cannot serve is refused with the field named, before anything changes") {
    KernelFixture f;
    f.serve();
    control::NamespaceSettings malloc;
    malloc.backend = "malloc";
    malloc.params = {{"size", "1M"}};
    refused(f, [&] { return f.control->add_namespace(kSub, malloc); }, ErrorCode::InvalidArgument, "backend");
    refused(f, [&] { return f.control->add_namespace(kSub, KernelFixture::kernel_ns("srv/relative.img")); },
            ErrorCode::InvalidArgument, "params.path");
    auto bad_param = KernelFixture::kernel_ns("/srv/b.img");
    bad_param.params["size"] = "1G";
    refused(f, [&] { return f.control->add_namespace(kSub, bad_param); }, ErrorCode::InvalidArgument, "params.size");
    auto masked = KernelFixture::kernel_ns("/srv/b.img");
    masked.visible_to = {kHost};
    refused(f, [&] { return f.control->add_namespace(kSub, masked); }, ErrorCode::InvalidArgument, "visible_to");
    refused(f, [&] { return f.control->set_namespace_visibility(kSub, 1, {kHost}); }, ErrorCode::InvalidArgument,
            "visible_to");
    control::HostKeyUpdate keys;
    keys.dhchap_secret = "DHHC-1:00:ia6zGodOr4SEG0Zzaw398rpY0wqipUWj4jWjUh4HWUz6aQ2n:";
    refused(f, [&] { return f.control->set_host_keys(kSub, kHost, keys); }, ErrorCode::InvalidArgument, "host_auth");
    refused(f, [&] { return f.control->resize_namespace(kSub, 1, 1 << 20); }, ErrorCode::NotSupported, "size");
    control::SubsystemSettings to_nvmfd;
    to_nvmfd.data_path = DataPath::Nvmfd;
    refused(f, [&] { return f.control->set_subsystem(kSub, to_nvmfd); }, ErrorCode::InvalidArgument, "data_path");

    // An nvmfd-served subsystem cannot be linked to a kernel port, and its
    // namespaces cannot use the kernel backend or a passthru controller.
    f.must(f.control->add_subsystem("nqn.2026-12.io.nvmfd:own", {}));
    refused(f, [&] { return f.control->link_subsystem(1, "nqn.2026-12.io.nvmfd:own"); }, ErrorCode::InvalidArgument,
            "subsystems");
    refused(f, [&] { return f.control->add_namespace("nqn.2026-12.io.nvmfd:own", KernelFixture::kernel_ns("/srv/b.img")); },
            ErrorCode::InvalidArgument, "backend");
    control::SubsystemSettings passthru;
    passthru.passthru_device = "/dev/nvme0";
    refused(f, [&] { return f.control->set_subsystem("nqn.2026-12.io.nvmfd:own", passthru); },
            ErrorCode::InvalidArgument, "passthru_device");
    // A passthru subsystem has no namespaces of its own.
    refused(f, [&] { return f.control->set_subsystem(kSub, passthru); }, ErrorCode::InvalidArgument,
            "passthru_device");

    // nvmfd does not listen where the kernel does (a wildcard covers it),
    // and Fibre Channel is the kernel's only.
    control::PortSettings mine;
    mine.address = "0.0.0.0";
    mine.service = "4420";
    refused(f, [&] { return f.control->add_port(mine); }, ErrorCode::InvalidArgument, "address");
    control::PortSettings fc;
    fc.transport = "fc";
    fc.family = "fc";
    fc.address = "nn-0x1000000000000001:pn-0x2000000000000001";
    refused(f, [&] { return f.control->add_port(fc); }, ErrorCode::InvalidArgument, "data_path");
    control::PortSettings tls;
    tls.data_path = DataPath::Kernel;
    tls.address = "127.0.0.1";
    tls.service = "4430";
    tls.secure_channel = plugin::SecureChannel::Required;
    refused(f, [&] { return f.control->add_port(tls); }, ErrorCode::InvalidArgument, "secure_channel");
    CHECK(f.control->export_spec().ports.size() == 1);
}

TEST_CASE("kernel data path: the kernel's refusal is a named error, and the state and the tree stay as they were") {
    KernelFixture f;
    f.serve();
    REQUIRE(f.ops);
    // A file that is not there: nvmet refuses to enable the namespace (ENOENT).
    refused(f, [&] { return f.control->add_namespace(kSub, KernelFixture::kernel_ns("/srv/missing.img")); },
            ErrorCode::NotFound, "path");
    // The kernel refuses the one write an ANA change takes: the state file
    // keeps the old state, and so does the kernel.
    f.ops->refuse(FsOp::Write, std::string("ports/1/ana_groups/1/ana_state"), EIO);
    refused(f, [&] { return f.control->set_ana_state(1, 1, proto::AnaState::Inaccessible); }, ErrorCode::Io,
            "ana_state");
    CHECK(f.read("ports/1/ana_groups/1/ana_state") == "optimized\n");
    CHECK(f.control->kernel_drift().empty());
}

TEST_CASE("kernel data path: at start, what hosts do not notice is repaired, the rest held back until asked") {
    KernelFixture f;
    f.serve(kSub, "/srv/a.img", 1);
    f.serve(kOther, "/srv/b.img", 2);
    f.control.reset();  // nvmfd is down; the kernel keeps serving

    // Meanwhile: an ANA state and a namespace's device changed behind nvmfd's back.
    f.write_raw("ports/1/ana_groups/1/ana_state", "inaccessible");
    f.write_raw("subsystems/" + std::string(kSub) + "/namespaces/1/enable", "0");
    f.write_raw("subsystems/" + std::string(kSub) + "/namespaces/1/device_path", "/srv/b.img");
    f.write_raw("subsystems/" + std::string(kSub) + "/namespaces/1/enable", "1");
    f.write_raw("subsystems/" + std::string(kOther) + "/attr_cntlid_max", "500");
    f.restart();

    CHECK(f.read("ports/1/ana_groups/1/ana_state") == "optimized\n");  // repaired
    CHECK(f.read("subsystems/" + std::string(kOther) + "/attr_cntlid_max") == "65519\n");
    CHECK(f.read("subsystems/" + std::string(kSub) + "/namespaces/1/device_path") == "/srv/b.img\n");  // held back
    auto drift = f.control->kernel_drift();
    REQUIRE(drift.size() == 1);
    CHECK(mentions(drift, "namespace 1"));
    CHECK(mentions(drift, "/srv/a.img"));

    // An admin's change does not apply it, not even one on the port that
    // serves that subsystem (only what the change touches may be disturbed).
    f.must(f.control->set_ana_state(1, 1, proto::AnaState::NonOptimized));
    CHECK(f.read("ports/1/ana_groups/1/ana_state") == "non-optimized\n");
    CHECK(f.read("ports/1/subsystems/" + std::string(kSub) + "/attr_serial").size() > 0);  // still linked
    CHECK(f.read("subsystems/" + std::string(kSub) + "/namespaces/1/device_path") == "/srv/b.img\n");
    CHECK(f.control->kernel_drift().size() == 1);

    // Asked for, it is.
    f.must(f.control->apply_kernel_drift());
    CHECK(f.read("subsystems/" + std::string(kSub) + "/namespaces/1/device_path") == "/srv/a.img\n");
    CHECK(f.control->kernel_drift().empty());
}

TEST_CASE("kernel data path: objects a crash left in the kernel but not in the state are still nvmfd's") {
    KernelFixture f;
    f.serve(kSub);
    const std::string before = slurp(f.state());
    // nvmfd wrote kOther into the kernel and died before the state file said so.
    f.serve(kOther, "/srv/b.img", 2);
    f.control.reset();
    std::ofstream(f.state()) << before;
    f.restart();

    CHECK(f.subsystem(f.tree(), kOther));  // at start: hosts may be connected to it
    auto drift = f.control->kernel_drift();
    CHECK(mentions(drift, kOther));
    CHECK(mentions(drift, "port 2"));
    f.must(f.control->apply_kernel_drift());
    auto t = f.tree();
    CHECK_FALSE(f.subsystem(t, kOther));
    CHECK(t.ports.size() == 1);
    CHECK(f.control->kernel_drift().empty());

    // An nvmetcli-made subsystem nobody told nvmfd about is never touched.
    FakeConfigfsOps admin(f.root().string());  // as nvmetcli would, with the kernel's defaults
    REQUIRE(admin.make_dir((f.root() / "subsystems/nqn.2026-12.io.admin:own").string()) == 0);
    f.restart();
    f.must(f.control->apply_kernel_drift());
    CHECK(fs::exists(f.root() / "subsystems/nqn.2026-12.io.admin:own"));
}

TEST_CASE("kernel data path: an FC port is addressed by its world wide names, written as nvmet spells them") {
    KernelFixture f;
    f.serve();
    control::PortSettings fc;
    fc.data_path = DataPath::Kernel;
    fc.transport = "fc";
    fc.address = "NN-0x10001100AB000001:pn-0x20001100ab000001";  // family and service: ignored for fc
    fc.id = 8;
    refused(f, [&] {
        auto bad = fc;
        bad.address = "nn-0x1000:pn-0x2000";
        return f.control->add_port(bad);
    }, ErrorCode::InvalidArgument, "address");
    f.must(f.control->add_port(fc));
    f.must(f.control->link_subsystem(8, kSub));
    auto t = f.tree();
    REQUIRE(t.ports.size() == 2);
    const auto& p = t.ports[1];
    CHECK(p.trtype == "fc");
    CHECK(p.adrfam == "fc");
    CHECK(p.traddr == "nn-0x10001100ab000001:pn-0x20001100ab000001");
    CHECK(p.trsvcid.empty());
    CHECK(p.subsystems == std::vector<std::string>{kSub});
    CHECK(f.control->kernel_drift().empty());  // the admin's spelling is the kernel's, read back
    const auto spec = f.control->export_spec();
    CHECK(spec.ports[1].family == "fc");
    CHECK(spec.ports[1].service.empty());
}

TEST_CASE("kernel data path: an export an admin made with nvmetcli is adopted in place when nvmfd is given its name") {
    KernelFixture f;
    f.serve(kOther, "/srv/b.img", 2);  // the fixture's kernel target (and fake) exist from here
    // The admin's own subsystem, as nvmetcli leaves it: a namespace, a host, allow_any_host off.
    const std::string own = "nqn.2026-12.io.admin:adopted";
    const std::string dir = f.admin_subsystem(own, 5, "/srv/a.img");
    std::ofstream(f.root() / dir / "adopted.marker") << "made by the admin\n";  // gone if nvmfd re-made the directory

    // Left alone while nvmfd does not name it.
    f.must(f.control->apply_kernel_drift());
    CHECK(fs::exists(f.root() / dir / "namespaces/5"));

    control::SubsystemSettings s;
    s.data_path = DataPath::Kernel;
    s.serial = "ADOPTED";
    s.allow_any_host = true;
    f.must(f.control->add_subsystem(own, s));
    // One file, one writer: kOther serves /srv/b.img already.
    refused(f, [&] { return f.control->add_namespace(own, KernelFixture::kernel_ns("/srv/b.img")); },
            ErrorCode::InvalidArgument, "params.path");
    f.must(f.control->add_namespace(own, KernelFixture::kernel_ns("/dev/vdb")));
    CHECK(fs::exists(f.root() / dir / "adopted.marker"));  // changed in place, not removed and made again
    const auto tree = f.tree();
    const auto* k = f.subsystem(tree, own);
    REQUIRE(k);
    CHECK(k->serial == "ADOPTED");
    CHECK(k->allow_any_host);
    REQUIRE(k->namespaces.size() == 1);  // the configuration's namespace; the admin's NSID 5 went
    CHECK(k->namespaces[0].nsid == 1);
    CHECK(k->namespaces[0].device_path == "/dev/vdb");
    CHECK(f.control->kernel_drift().empty());
}

TEST_CASE("kernel data path: the kernel's EBUSY, EINVAL and ENOENT come back as Busy, InvalidArgument, NotFound") {
    KernelFixture f;
    f.serve();
    REQUIRE(f.ops);
    const std::string sub = "subsystems/" + std::string(kSub);
    f.ops->refuse(FsOp::MakeDir, sub + "/namespaces/2", EBUSY);
    refused(f, [&] { return f.control->add_namespace(kSub, KernelFixture::kernel_ns("/srv/b.img")); }, ErrorCode::Busy,
            "nsid");
    f.ops->refuse(FsOp::Write, sub + "/attr_model", EINVAL);
    refused(f, [&] {
        control::SubsystemSettings s;
        s.model = "Renamed";
        return f.control->set_subsystem(kSub, s);
    }, ErrorCode::InvalidArgument, "model");
    f.ops->refuse(FsOp::Link, "ports/1/subsystems/" + std::string(kOther), ENOENT);
    control::SubsystemSettings k;
    k.data_path = DataPath::Kernel;
    f.must(f.control->add_subsystem(kOther, k));
    refused(f, [&] { return f.control->link_subsystem(1, kOther); }, ErrorCode::NotFound, "subsystems");
    // Each message says where and what the kernel said.
    f.ops->refuse(FsOp::Write, sub + "/attr_serial", EINVAL);
    control::SubsystemSettings s;
    s.serial = "NEW";
    auto r = f.control->set_subsystem(kSub, s);
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("attr_serial") != std::string::npos);
    CHECK(r.error().message.find("Invalid argument") != std::string::npos);
}

TEST_CASE("kernel data path: a failed adoption leaves the admin's export as it was, and forgets it") {
    KernelFixture f;
    f.serve(kOther, "/srv/b.img", 2);
    const std::string own = "nqn.2026-12.io.admin:in-use";
    const std::string dir = f.admin_subsystem(own, 3, "/srv/a.img");
    f.ops->discovered.insert(own);  // a host identified it: nvmet refuses a new serial (EINVAL)
    control::SubsystemSettings s;
    s.data_path = DataPath::Kernel;
    s.serial = "MINE";
    refused(f, [&] { return f.control->add_subsystem(own, s); }, ErrorCode::InvalidArgument, "serial");
    CHECK(f.read(dir + "/namespaces/3/enable") == "1\n");  // the admin's namespace still serves
    const std::string record = slurp(f.dir / "state.kernel-scope.json");
    CHECK(record.find(own) == std::string::npos);  // not nvmfd's: never removed by `kernel apply`
    CHECK_FALSE(mentions(f.control->kernel_drift(), own));
    f.must(f.control->apply_kernel_drift());
    CHECK(fs::exists(f.root() / dir / "namespaces/3"));
}

TEST_CASE("kernel data path: an admin's port is never taken over") {
    KernelFixture f;
    f.serve();  // nvmfd's port 1
    FakeConfigfsOps admin(f.root().string());
    REQUIRE(admin.make_dir((f.root() / "ports/2").string()) == 0);
    REQUIRE(admin.write_attr((f.root() / "ports/2/addr_trtype").string(), "tcp") == 0);
    REQUIRE(admin.write_attr((f.root() / "ports/2/addr_adrfam").string(), "ipv4") == 0);
    REQUIRE(admin.write_attr((f.root() / "ports/2/addr_traddr").string(), "127.0.0.1") == 0);
    REQUIRE(admin.write_attr((f.root() / "ports/2/addr_trsvcid").string(), "4500") == 0);
    control::PortSettings p;
    p.data_path = DataPath::Kernel;
    p.address = "127.0.0.1";
    p.service = "4501";
    p.id = 2;
    refused(f, [&] { return f.control->add_port(p); }, ErrorCode::Busy, "id");
    p.id = 0;  // nvmfd picks: not 1 (its own), not 2 (the admin's)
    auto id = f.control->add_port(p);
    REQUIRE_MESSAGE(id, id.error().describe());
    CHECK(*id == 3);
    CHECK(f.read("ports/2/addr_trsvcid") == "4500\n");
    // A port on an address the admin's port serves cannot be made to serve:
    // refused, not accepted and held back.
    REQUIRE(admin.make_dir((f.root() / "subsystems/nqn.2026-12.io.admin:x").string()) == 0);
    REQUIRE(admin.make_link((f.root() / "subsystems/nqn.2026-12.io.admin:x").string(),
                            (f.root() / "ports/2/subsystems/nqn.2026-12.io.admin:x").string()) == 0);
    control::PortSettings clash;
    clash.data_path = DataPath::Kernel;
    clash.address = "127.0.0.1";
    clash.service = "4500";
    clash.id = 5;
    refused(f, [&] { return f.control->add_port(clash); }, ErrorCode::Busy, "address");
    // A kernel port's family is one the transport has.
    control::PortSettings fam;
    fam.data_path = DataPath::Kernel;
    fam.address = "127.0.0.1";
    fam.service = "4502";
    fam.family = "fc";
    refused(f, [&] { return f.control->add_port(fam); }, ErrorCode::InvalidArgument, "family");
}

TEST_CASE("kernel data path: the record forgets objects nvmfd removed, even while other drift is held back") {
    KernelFixture f;
    f.serve(kSub, "/srv/a.img", 1);
    f.serve(kOther, "/srv/b.img", 2);
    f.control.reset();
    f.write_raw("subsystems/" + std::string(kSub) + "/namespaces/1/enable", "0");
    f.write_raw("subsystems/" + std::string(kSub) + "/namespaces/1/device_path", "/srv/b2.img");
    f.write_raw("subsystems/" + std::string(kSub) + "/namespaces/1/enable", "1");
    f.restart();
    REQUIRE(f.control->kernel_drift().size() == 1);
    f.must(f.control->remove_port(2, false));
    f.must(f.control->remove_subsystem(kOther, false));
    const std::string record = slurp(f.dir / "state.kernel-scope.json");
    CHECK(record.find(kOther) == std::string::npos);
    CHECK(record.find("\n    2\n") == std::string::npos);
    CHECK(f.control->kernel_drift().size() == 1);  // kSub's still held back
}

TEST_CASE("kernel data path: a namespace's size is its file's, read without opening it") {
    KernelFixture f;
    const fs::path file = f.dir / "disk.img";
    std::ofstream(file).close();
    fs::resize_file(file, 3 << 20);
    f.devices.insert(file.string());
    f.open();
    control::SubsystemSettings s;
    s.data_path = DataPath::Kernel;
    f.must(f.control->add_subsystem(kSub, s));
    f.must(f.control->add_namespace(kSub, KernelFixture::kernel_ns(file.string())));
    auto size = f.control->namespace_size(kSub, 1);
    REQUIRE_MESSAGE(size, size.error().describe());
    CHECK(*size == 3u << 20);
}
