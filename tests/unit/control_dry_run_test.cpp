// The dry-run Control (ScratchControl): the same validation as the live
// one, on a copy of its configuration; nothing persisted, opened or started.
#include "tests/unit/control_fixture.hpp"

#include "core/control/scratch_control.hpp"

using namespace nvmfd;
using namespace nvmfd::test;

namespace {

bool accepts(const std::string& service) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(std::stoi(service)));
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    return ok;
}

}  // namespace

TEST_CASE("a dry-run copy validates like the live Control and changes nothing of it") {
    Fixture f;
    const std::string nqn = "nqn.2026-11.io.nvmfd:live";
    REQUIRE(f.control->add_subsystem(nqn, {}));
    REQUIRE(f.control->add_namespace(nqn, malloc_ns("1M")));
    control::PortSettings port;
    port.address = "127.0.0.1";
    port.service = free_port();
    REQUIRE(f.control->add_port(port));
    const std::string state_before = slurp(f.state());
    const std::string spec_before = f.spec_json();

    auto scratch = f.control->dry_run_copy();
    REQUIRE(scratch);
    Control& dry = (*scratch)->control();
    CHECK(f.spec_json() == control::to_json(dry.export_spec()).dump());

    // The live configuration's rules and contents.
    auto dup = dry.add_subsystem(nqn, {});
    REQUIRE(!dup);
    CHECK(dup.error().code == ErrorCode::AlreadyExists);
    auto taken = dry.add_namespace(nqn, malloc_ns("1M", 1));
    REQUIRE(!taken);
    CHECK(taken.error().field == "nsid");
    // The backend's own checks, without opening anything.
    auto bad = dry.add_namespace(nqn, malloc_ns("lots"));
    REQUIRE(!bad);
    CHECK(bad.error().field == "params.size");
    control::NamespaceSettings file;
    file.backend = "uring";
    file.params = {{"path", (f.dir / "new.img").string()}, {"size", "1M"}, {"create", "true"}};
    auto made = dry.add_namespace(nqn, file);
    REQUIRE(made);
    CHECK(*made == 2);
    CHECK(!fs::exists(f.dir / "new.img"));
    file.params = {{"path", (f.dir / "missing.img").string()}};
    auto missing = dry.add_namespace(nqn, file);
    REQUIRE(!missing);
    CHECK(missing.error().code == ErrorCode::NotFound);
    CHECK(missing.error().field == "params.path");

    // Ports never listen.
    CHECK(accepts(port.service));  // the live one does
    control::PortSettings again = port;
    again.service = free_port();
    REQUIRE(dry.add_port(again));
    CHECK(!accepts(again.service));
    REQUIRE(dry.set_ana_state(1, 1, proto::AnaState::Inaccessible));
    CHECK(dry.export_spec().ports.size() == 2);
    CHECK(dry.namespace_stats(nqn, 2).error().code == ErrorCode::NotFound);  // checked, never opened

    CHECK(f.spec_json() == spec_before);
    CHECK(slurp(f.state()) == state_before);
}
