// Hosts' authentication keys through the control API: validation with the
// setting's name, the secrets file (0600, written before the state file,
// never the state file or an export), restart, and the data path's view.
#include <doctest/doctest.h>

#include <sys/stat.h>

#include "core/control/secrets_file.hpp"
#include "tests/unit/control_fixture.hpp"

using namespace nvmfd;
using test::Fixture;
using test::slurp;

namespace {

const std::string kNqn = "nqn.2026-11.io.nvmfd:keys";
const std::string kHost = "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-0000000000b1";
const std::string kKey = "DHHC-1:01:a04E0in/h9rGUwyRPirk0EHWZb3S2iivAU0Om4iZUmeoR5Bg:";
const std::string kCtrlKey =
    "DHHC-1:02:s1vPL9QPWpgaMKheaWXLag5gM9yMilZs0oiLPa5lt3RKjVeuHd5ZjNtAEmNRlOLsjS4dXg==:";
// nvme gen-tls-key --hmac 1 (a 32-byte PSK)
const std::string kPsk = "NVMeTLSkey-1:01:a04E0in/h9rGUwyRPirk0EHWZb3S2iivAU0Om4iZUmeoR5Bg:";

control::HostKeyUpdate keys(std::optional<std::string> secret, std::optional<std::string> ctrl = {}) {
    control::HostKeyUpdate u;
    u.dhchap_secret = std::move(secret);
    u.dhchap_ctrl_secret = std::move(ctrl);
    return u;
}

std::string field_of(const Result<void>& r) { return r ? "" : r.error().field; }

}  // namespace

TEST_CASE("bad keys are refused naming the setting, and change nothing") {
    Fixture f;
    REQUIRE(f.control->add_subsystem(kNqn, {}));
    CHECK(field_of(f.control->allow_host(kNqn, kHost, keys("DHHC-1:01:garbage:"))) == "dhchap-secret");
    CHECK(f.control->export_spec().subsystems[0].hosts.empty());  // not allowed without its key either
    REQUIRE(f.control->allow_host(kNqn, kHost));
    CHECK(field_of(f.control->set_host_keys(kNqn, kHost, keys({}, kCtrlKey))) == "dhchap-ctrl-secret");
    CHECK(field_of(f.control->set_host_keys(kNqn, kHost, keys(kKey, kKey))) == "dhchap-ctrl-secret");
    control::HostKeyUpdate u;
    u.dhchap_digests = std::vector<std::string>{"sha256", "md5"};
    CHECK(field_of(f.control->set_host_keys(kNqn, kHost, u)) == "dhchap-digests");
    u = {};
    u.dhchap_groups = std::vector<std::string>{"ffdhe1024"};
    CHECK(field_of(f.control->set_host_keys(kNqn, kHost, u)) == "dhchap-groups");
    u = {};
    u.tls_psk = "NVMeTLSkey-1:03:a04E0in/h9rGUwyRPirk0EHWZb3S2iivAU0Om4iZUmeoR5Bg:";
    CHECK(field_of(f.control->set_host_keys(kNqn, kHost, u)) == "tls-psk");
    // Keys belong to allowed hosts.
    auto r = f.control->set_host_keys(kNqn, "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-0000000000ff",
                                      keys(kKey));
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::NotFound);
    CHECK_FALSE(f.control->host_keys(kNqn, kHost)->dhchap_secret);
}

TEST_CASE("secrets live in their own 0600 file, never in the state file or the export, and survive a restart") {
    Fixture f;
    REQUIRE(f.control->add_subsystem(kNqn, {}));
    control::HostKeyUpdate u = keys(kKey, kCtrlKey);
    u.tls_psk = kPsk;
    u.dhchap_groups = std::vector<std::string>{"ffdhe2048", "null", "ffdhe2048"};
    REQUIRE(f.control->allow_host(kNqn, kHost, u));

    auto secrets = control::secrets_path_for(f.state());
    CHECK(secrets.filename() == "state.secrets.json");
    struct stat st {};
    REQUIRE(::stat(secrets.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    std::string secret_text = slurp(secrets), state_text = slurp(f.state());
    CHECK(secret_text.find(kKey) != std::string::npos);
    CHECK(secret_text.find(kPsk) != std::string::npos);
    CHECK(state_text.find("a04E0in") == std::string::npos);
    CHECK(f.control->state_json().find("a04E0in") == std::string::npos);
    CHECK(state_text.find("dhchap_ctrl_secret") != std::string::npos);  // named, not held

    auto info = f.control->host_keys(kNqn, kHost);
    REQUIRE(info);
    CHECK(info->dhchap_secret);
    CHECK(info->dhchap_ctrl_secret);
    CHECK(info->tls_psk);
    CHECK(info->dhchap_groups == std::vector<std::string>{"ffdhe2048", "null"});

    f.control.reset();
    f.open();
    REQUIRE(f.control->load_state());
    info = f.control->host_keys(kNqn, kHost);
    CHECK(info->dhchap_ctrl_secret);
    CHECK_FALSE(info->missing);
    // The data path sees the parsed secrets and the allowed groups (bits 0 and 1).
    auto snap = f.target.snapshot();
    const auto* ha = snap->find_subsystem(kNqn)->auth_for(kHost);
    REQUIRE(ha);
    CHECK(ha->dhchap);
    CHECK(ha->problem.empty());
    CHECK(ha->dhchap_settings.host_key);
    CHECK(ha->dhchap_settings.ctrl_key);
    CHECK(ha->dhchap_settings.groups == 0b11);
    CHECK(ha->dhchap_settings.hashes == 0b1110);
}

TEST_CASE("removing the host's secret removes the controller's; revoking the host removes its keys") {
    Fixture f;
    REQUIRE(f.control->add_subsystem(kNqn, {}));
    REQUIRE(f.control->allow_host(kNqn, kHost, keys(kKey, kCtrlKey)));
    REQUIRE(f.control->set_host_keys(kNqn, kHost, keys("")));
    auto info = f.control->host_keys(kNqn, kHost);
    CHECK_FALSE(info->dhchap_secret);
    CHECK_FALSE(info->dhchap_ctrl_secret);
    REQUIRE(f.control->set_host_keys(kNqn, kHost, keys(kKey)));
    REQUIRE(f.control->disallow_host(kNqn, kHost));
    CHECK(slurp(control::secrets_path_for(f.state())).find("a04E0in") == std::string::npos);
    REQUIRE(f.control->allow_host(kNqn, kHost));
    CHECK_FALSE(f.control->host_keys(kNqn, kHost)->dhchap_secret);
}

TEST_CASE("a secret the state names but the secrets file lacks refuses the host instead of opening it") {
    Fixture f;
    REQUIRE(f.control->add_subsystem(kNqn, {}));
    REQUIRE(f.control->allow_host(kNqn, kHost, keys(kKey)));
    f.control.reset();
    std::filesystem::remove(control::secrets_path_for(f.state()));
    f.open();
    REQUIRE(f.control->load_state());
    CHECK(f.control->host_keys(kNqn, kHost)->missing);
    auto snap = f.target.snapshot();
    const auto* ha = snap->find_subsystem(kNqn)->auth_for(kHost);
    REQUIRE(ha);
    CHECK(ha->dhchap);
    CHECK(ha->problem.find("missing from the secrets file") != std::string::npos);
    // Setting it again heals it.
    REQUIRE(f.control->set_host_keys(kNqn, kHost, keys(kKey)));
    CHECK(f.target.snapshot()->find_subsystem(kNqn)->auth_for(kHost)->problem.empty());
}

TEST_CASE("a broken secrets file stops the start and names itself") {
    Fixture f;
    REQUIRE(f.control->add_subsystem(kNqn, {}));
    REQUIRE(f.control->allow_host(kNqn, kHost, keys(kKey)));
    f.control.reset();
    std::ofstream(control::secrets_path_for(f.state())) << "{\"version\": 1, \"subsystems\": []}";
    f.open();
    auto r = f.control->load_state();
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("state.secrets.json") != std::string::npos);
}

TEST_CASE("restoring an exported configuration keeps the secrets nvmfd holds for the same hosts") {
    Fixture f;
    REQUIRE(f.control->add_subsystem(kNqn, {}));
    REQUIRE(f.control->allow_host(kNqn, kHost, keys(kKey, kCtrlKey)));
    auto exported = control::from_json(nlohmann::json::parse(f.control->state_json()));
    REQUIRE(exported);
    REQUIRE(f.control->restore(*exported, false));
    auto info = f.control->host_keys(kNqn, kHost);
    CHECK(info->dhchap_secret);
    CHECK(info->dhchap_ctrl_secret);
    CHECK_FALSE(info->missing);
    CHECK(f.target.snapshot()->find_subsystem(kNqn)->auth_for(kHost)->problem.empty());
    CHECK(slurp(control::secrets_path_for(f.state())).find(kKey) != std::string::npos);
}
