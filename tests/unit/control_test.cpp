// The control API in process: validation, named errors that change
// nothing, persistence and restart through the state file.
#include "tests/unit/control_fixture.hpp"

using namespace nvmfd;
using namespace nvmfd::test;
using control::Control;
namespace fs = std::filesystem;

namespace {

const std::string kNqn = "nqn.2026-11.io.nvmfd:unit";
const std::string kHost = "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-000000000001";

}  // namespace

TEST_CASE("invalid calls return named errors and change nothing") {
    Fixture f;
    REQUIRE(f.control->add_subsystem(kNqn, {}));
    REQUIRE(f.control->add_namespace(kNqn, malloc_ns()));
    Unchanged expect(f);
    expect.check(f.control->add_subsystem("not-an-nqn", {}), ErrorCode::InvalidArgument, "nqn");
    expect.check(f.control->add_subsystem(kNqn, {}), ErrorCode::AlreadyExists, "nqn");
    expect.check(f.control->add_subsystem("nqn.2014-08.org.nvmexpress.discovery", {}), ErrorCode::InvalidArgument, "nqn");
    control::SubsystemSettings long_serial;
    long_serial.serial = std::string(21, 'S');
    expect.check(f.control->add_subsystem("nqn.2026-11.io.nvmfd:other", long_serial), ErrorCode::InvalidArgument, "serial");
    control::SubsystemSettings reversed_range;
    reversed_range.min_cntlid = 20;
    reversed_range.max_cntlid = 10;
    expect.check(f.control->add_subsystem("nqn.2026-11.io.nvmfd:other", reversed_range), ErrorCode::InvalidArgument,
                 "max_cntlid");
    control::SubsystemSettings reserved_ids;
    reserved_ids.max_cntlid = 0xfff0;
    expect.check(f.control->set_subsystem(kNqn, reserved_ids), ErrorCode::InvalidArgument, "max_cntlid");
    control::SubsystemSettings zero_min;
    zero_min.min_cntlid = 0;
    expect.check(f.control->set_subsystem(kNqn, zero_min), ErrorCode::InvalidArgument, "min_cntlid");
    expect.check(f.control->add_namespace(kNqn, malloc_ns("1M", 1)), ErrorCode::AlreadyExists, "nsid");
    auto no_backend = malloc_ns();
    no_backend.backend = "nosuch";
    expect.check(f.control->add_namespace(kNqn, no_backend), ErrorCode::NotFound, "backend");
    auto no_size = malloc_ns();
    no_size.params.clear();
    expect.check(f.control->add_namespace(kNqn, no_size), ErrorCode::InvalidArgument, "params.size");
    expect.check(f.control->add_namespace(kNqn, malloc_ns("1000")), ErrorCode::InvalidArgument, "params.size");
    auto bad_group = malloc_ns();
    bad_group.ana_group = 9;
    expect.check(f.control->add_namespace(kNqn, bad_group), ErrorCode::NotFound, "ana_group");
    expect.check(f.control->add_namespace("nqn.2026-11.io.nvmfd:nosuch", malloc_ns()), ErrorCode::NotFound, "nqn");
    expect.check(f.control->remove_namespace(kNqn, 5), ErrorCode::NotFound, "nsid");
    expect.check(f.control->allow_host(kNqn, "bogus"), ErrorCode::InvalidArgument, "host");
    expect.check(f.control->disallow_host(kNqn, kHost), ErrorCode::NotFound, "host");
    control::PortSettings bad_port;
    bad_port.address = "127.0.0.1";
    bad_port.service = "99999";
    expect.check(f.control->add_port(bad_port), ErrorCode::InvalidArgument, "service");
    bad_port.service = "4420";
    bad_port.address = "not.an.address";
    expect.check(f.control->add_port(bad_port), ErrorCode::InvalidArgument, "address");
    bad_port.address = "127.0.0.1";
    bad_port.transport = "carrier-pigeon";
    expect.check(f.control->add_port(bad_port), ErrorCode::NotFound, "transport");
    // TLS is defined for NVMe/TCP only.
    bad_port.secure_channel = plugin::SecureChannel::Required;
    expect.check(f.control->add_port(bad_port), ErrorCode::InvalidArgument, "secure_channel");
    expect.check(f.control->link_subsystem(3, kNqn), ErrorCode::NotFound, "port");
    expect.check(f.control->set_ana_state(1, 1, proto::AnaState::Inaccessible), ErrorCode::NotFound, "port");
    expect.check(f.control->remove_ana_group(1), ErrorCode::InvalidArgument, "group");
    expect.check(f.control->add_ana_group(500), ErrorCode::InvalidArgument, "group");
    expect.check(f.control->resize_namespace(kNqn, 1, 1000), ErrorCode::InvalidArgument, "size");
}

TEST_CASE("a port whose address is taken is refused as busy") {
    Fixture f;
    std::string port = free_port();
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(std::stoi(port)));
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(::listen(fd, 1) == 0);
    control::PortSettings p;
    p.address = "127.0.0.1";
    p.service = port;
    auto r = f.control->add_port(p);
    ::close(fd);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::Busy);
    CHECK(f.control->export_spec().ports.empty());
}

TEST_CASE("every change is persisted and a restart restores it exactly") {
    Fixture f;
    REQUIRE(f.control->add_subsystem(kNqn, {.data_path = {}, .passthru_device = {}, .serial = "UNIT1",
                                            .model = "model x", .allow_any_host = false, .max_namespaces = 16,
                                            .min_cntlid = 100, .max_cntlid = 199}));
    REQUIRE(f.control->allow_host(kNqn, kHost));
    REQUIRE(f.control->add_ana_group(2));
    auto ns = malloc_ns("2M");
    ns.ana_group = 2;
    ns.visible_to = {kHost};
    auto nsid = f.control->add_namespace(kNqn, ns);
    REQUIRE(nsid);
    CHECK(*nsid == 1);
    CHECK(*f.control->add_namespace(kNqn, malloc_ns("1M")) == 2);
    REQUIRE(f.control->resize_namespace(kNqn, 2, 4u << 20));
    control::PortSettings p;
    p.address = "127.0.0.1";
    p.service = free_port();
    auto port = f.control->add_port(p);
    REQUIRE(port);
    REQUIRE(f.control->link_subsystem(*port, kNqn));
    REQUIRE(f.control->set_ana_state(*port, 2, proto::AnaState::NonOptimized));
    CHECK(*f.control->namespace_size(kNqn, 2) == (4u << 20));

    std::string before = f.spec_json();
    auto on_disk = control::from_json(nlohmann::json::parse(slurp(f.state())));
    REQUIRE(on_disk);
    CHECK(control::to_json(*on_disk).dump() == before);

    // "Restart": a new control plane on the same state file.
    f.control.reset();
    f.open();
    auto loaded = f.control->load_state();
    REQUIRE(loaded);
    CHECK(*loaded);
    CHECK(f.spec_json() == before);  // identifiers (UUID, NGUID) included
    CHECK(*f.control->namespace_size(kNqn, 2) == (4u << 20));
    CHECK(f.control->offline().empty());
}

TEST_CASE("a corrupt state file stops the start and is left untouched") {
    Fixture f;
    for (std::string garbage : {std::string("{\"version\": 1, \"subsystems\": [ {\"nqn\": "), std::string("\x01\x02"),
                                std::string("{\"version\": 1, \"subsystems\": [{\"nqn\": \"bad nqn\"}]}")}) {
        {
            std::ofstream out(f.state(), std::ios::trunc);
            out << garbage;
        }
        f.open();
        auto r = f.control->load_state();
        REQUIRE_FALSE(r);
        CHECK(r.error().message.find(f.state().string()) != std::string::npos);
        CHECK(slurp(f.state()) == garbage);
        CHECK(f.control->export_spec().subsystems.empty());
    }
}

TEST_CASE("removing a subsystem or namespace frees it and the NSID") {
    Fixture f;
    REQUIRE(f.control->add_subsystem(kNqn, {}));
    REQUIRE(f.control->add_namespace(kNqn, malloc_ns()));
    REQUIRE(f.control->add_namespace(kNqn, malloc_ns()));
    REQUIRE(f.control->remove_namespace(kNqn, 1));
    CHECK(*f.control->add_namespace(kNqn, malloc_ns()) == 1);
    REQUIRE(f.control->remove_subsystem(kNqn, false));
    CHECK(f.control->export_spec().subsystems.empty());
    CHECK_FALSE(f.control->namespace_stats(kNqn, 1));
}

TEST_CASE("restore replaces the configuration; an invalid one changes nothing") {
    Fixture f;
    REQUIRE(f.control->add_subsystem(kNqn, {}));
    REQUIRE(f.control->add_namespace(kNqn, malloc_ns()));
    std::string before = f.spec_json();
    control::ExportSpec bad = f.control->export_spec();
    bad.subsystems[0].namespaces.push_back(bad.subsystems[0].namespaces[0]);  // duplicate NSID
    auto r = f.control->restore(bad, false);
    REQUIRE_FALSE(r);
    CHECK(r.error().field == "subsystems[0].namespaces[1].nsid");
    CHECK(f.spec_json() == before);

    control::ExportSpec other;
    control::SubsystemSpec s;
    s.nqn = "nqn.2026-11.io.nvmfd:restored";
    s.allow_any_host = true;
    other.subsystems.push_back(s);
    REQUIRE(f.control->restore(other, false));
    auto now = f.control->export_spec();
    REQUIRE(now.subsystems.size() == 1);
    CHECK(now.subsystems[0].nqn == "nqn.2026-11.io.nvmfd:restored");
    CHECK_FALSE(now.subsystems[0].serial.empty());
}

TEST_CASE("policies are persisted, replaced by name, removed, and survive a restart") {
    Fixture f;
    REQUIRE(f.control->put_policy({"b-policy", "return 2", "b.lua", {}}));
    REQUIRE(f.control->put_policy({"a.policy", "return 1", "a.lua", {{"k", "v"}}}));
    REQUIRE(f.control->put_policy({"b-policy", "return 3", "b2.lua", {}}));  // replaces
    auto spec = f.control->export_spec();
    REQUIRE(spec.policies.size() == 2);
    CHECK(spec.policies[0].name == "a.policy");  // sorted by name
    CHECK(spec.policies[1].source == "return 3");
    CHECK(spec.policies[1].file == "b2.lua");

    Unchanged expect(f);
    expect.check(f.control->put_policy({"", "x", "", {}}), ErrorCode::InvalidArgument, "name");
    expect.check(f.control->put_policy({std::string(65, 'a'), "x", "", {}}), ErrorCode::InvalidArgument, "name");
    expect.check(f.control->put_policy({"has space", "x", "", {}}), ErrorCode::InvalidArgument, "name");
    expect.check(f.control->put_policy({"a/b", "x", "", {}}), ErrorCode::InvalidArgument, "name");
    expect.check(f.control->remove_policy("nosuch"), ErrorCode::NotFound, "name");
    CHECK(f.control->put_policy({std::string(64, 'a'), "x", "", {}}));
    REQUIRE(f.control->remove_policy(std::string(64, 'a')));

    f.open();
    REQUIRE(*f.control->load_state());
    CHECK(f.spec_json() == expect.spec);
    REQUIRE(f.control->remove_policy("a.policy"));
    f.open();
    REQUIRE(*f.control->load_state());
    REQUIRE(f.control->export_spec().policies.size() == 1);
    CHECK(f.control->export_spec().policies[0].name == "b-policy");
}

TEST_CASE("a state file with a bad or duplicate policy name is refused") {
    Fixture f;
    control::ExportSpec spec;
    spec.policies.push_back({"dup", "x", "", {}});
    spec.policies.push_back({"dup", "y", "", {}});
    auto r = f.control->apply(spec);
    REQUIRE_FALSE(r);
    CHECK(r.error().field == "policies[1].name");
    spec.policies.pop_back();
    spec.policies[0].name = "bad name";
    r = f.control->apply(spec);
    REQUIRE_FALSE(r);
    CHECK(r.error().field == "policies[0].name");
}

TEST_CASE("config restore keeps the running policies") {
    Fixture f;
    REQUIRE(f.control->put_policy({"keep", "return 1", "keep.lua", {}}));
    control::ExportSpec other;
    other.policies.push_back({"ignored", "return 2", "", {}});
    other.policies.push_back({"not even a valid name", "return 3", "", {}});
    REQUIRE(f.control->restore(other, false));
    auto now = f.control->export_spec();
    REQUIRE(now.policies.size() == 1);
    CHECK(now.policies[0].name == "keep");
}
