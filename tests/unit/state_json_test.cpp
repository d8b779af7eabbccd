#include <doctest/doctest.h>

#include "core/control/state_json.hpp"

using namespace nvmfd::control;
using nlohmann::json;

namespace {

ExportSpec sample() {
    ExportSpec s;
    s.ana_groups = {1, 2};
    SubsystemSpec sub;
    sub.nqn = "nqn.2026-11.io.nvmfd:db1";
    sub.serial = "DB1";
    sub.model = "nvmfd";
    sub.hosts = {"nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-000000000001"};
    NamespaceSpec ns;
    ns.nsid = 3;
    ns.backend = "malloc";
    ns.params = {{"size", "1048576"}, {"block_size", "4096"}};
    ns.uuid = "01234567-89ab-4def-8123-456789abcdef";
    ns.nguid = "00112233445566778899aabbccddeeff";
    ns.ana_group = 2;
    ns.visible_to = {"nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-000000000001"};
    sub.namespaces.push_back(ns);
    s.subsystems.push_back(sub);
    PortSpec p;
    p.id = 7;
    p.address = "127.0.0.1";
    p.service = "4420";
    p.subsystems = {sub.nqn};
    p.ana_states[2] = nvmfd::proto::AnaState::Inaccessible;
    s.ports.push_back(p);
    return s;
}

}  // namespace

TEST_CASE("export state survives a JSON round trip") {
    ExportSpec s = sample();
    json j = to_json(s);
    auto back = from_json(json::parse(j.dump()));
    REQUIRE(back);
    CHECK(to_json(*back) == j);
    CHECK(back->subsystems[0].namespaces[0].params.at("block_size") == "4096");
    CHECK(back->ports[0].ana_states.at(2) == nvmfd::proto::AnaState::Inaccessible);
}

TEST_CASE("strict reading names the offending field") {
    json j = to_json(sample());
    SUBCASE("unknown key") {
        j["subsystems"][0]["namespaces"][0]["sise"] = 1;
        auto r = from_json(j);
        REQUIRE_FALSE(r);
        CHECK(r.error().field == "subsystems[0].namespaces[0].sise");
    }
    SUBCASE("wrong type") {
        j["ports"][0]["id"] = "seven";
        auto r = from_json(j);
        REQUIRE_FALSE(r);
        CHECK(r.error().field == "ports[0].id");
    }
    SUBCASE("bad ANA state") {
        j["ports"][0]["ana_states"]["2"] = "sleepy";
        auto r = from_json(j);
        REQUIRE_FALSE(r);
        CHECK(r.error().field == "ports[0].ana_states.2");
    }
    SUBCASE("future version") {
        j["version"] = 2;
        auto r = from_json(j);
        REQUIRE_FALSE(r);
        CHECK(r.error().field == "version");
    }
    SUBCASE("missing NQN") {
        j["subsystems"][0].erase("nqn");
        auto r = from_json(j);
        REQUIRE_FALSE(r);
        CHECK(r.error().field == "subsystems[0].nqn");
    }
    SUBCASE("not an object at all") {
        CHECK_FALSE(from_json(json::array()));
    }
}

TEST_CASE("policies survive a JSON round trip; a file without them still loads") {
    ExportSpec s = sample();
    CHECK_FALSE(to_json(s).contains("policies"));  // older readers keep reading files without policies
    s.policies.push_back(PolicySpec{"failover", "nvmfd.log('info', 'hi')\n", "/etc/nvmfd/failover.lua",
                                    {{"group", "2"}, {"port", "1"}}});
    json j = to_json(s);
    auto back = from_json(json::parse(j.dump()));
    REQUIRE(back);
    CHECK(to_json(*back) == j);
    REQUIRE(back->policies.size() == 1);
    CHECK(back->policies[0].name == "failover");
    CHECK(back->policies[0].source == "nvmfd.log('info', 'hi')\n");
    CHECK(back->policies[0].file == "/etc/nvmfd/failover.lua");
    CHECK(back->policies[0].params.at("group") == "2");

    j.erase("policies");
    auto old = from_json(j);
    REQUIRE(old);
    CHECK(old->policies.empty());
}

TEST_CASE("strict reading of policies names the offending field") {
    ExportSpec s = sample();
    s.policies.push_back(PolicySpec{"p", "return 1", "p.lua", {{"k", "v"}}});
    json j = to_json(s);
    auto field_of = [](const json& bad) {
        auto r = from_json(bad);
        REQUIRE_FALSE(r);
        return r.error().field;
    };
    json a = j;
    a["policies"][0]["sorce"] = "x";
    CHECK(field_of(a) == "policies[0].sorce");
    json b = j;
    b["policies"][0]["source"] = 5;
    CHECK(field_of(b) == "policies[0].source");
    json c = j;
    c["policies"][0]["params"]["k"] = 1;
    CHECK(field_of(c) == "policies[0].params.k");
    json d = j;
    d["policies"][0].erase("name");
    CHECK(field_of(d) == "policies[0].name");
    json e = j;
    e["policies"] = json::object();
    CHECK(field_of(e) == "policies");
}

TEST_CASE("a port's secure channel survives a round trip; none is not written; bad values name the field") {
    ExportSpec s = sample();
    CHECK_FALSE(to_json(s)["ports"][0].contains("secure_channel"));  // readable by an nvmfd without TLS
    s.ports[0].secure_channel = nvmfd::plugin::SecureChannel::Required;
    json j = to_json(s);
    CHECK(j["ports"][0]["secure_channel"] == "required");
    auto back = from_json(json::parse(j.dump()));
    REQUIRE(back);
    CHECK(back->ports[0].secure_channel == nvmfd::plugin::SecureChannel::Required);
    j["ports"][0]["secure_channel"] = "sometimes";
    auto bad = from_json(j);
    REQUIRE_FALSE(bad);
    CHECK(bad.error().field == "ports[0].secure_channel");
    CHECK(bad.error().message.find("none, allowed or required") != std::string::npos);
}

TEST_CASE("kernel-served subsystems and ports survive a round trip; nvmfd's own are written as before") {
    ExportSpec s = sample();
    json before = to_json(s);
    CHECK_FALSE(before["subsystems"][0].contains("data_path"));  // files of nvmfd-served exports stay byte-identical
    CHECK_FALSE(before["subsystems"][0].contains("passthru_device"));
    CHECK_FALSE(before["ports"][0].contains("data_path"));

    s.subsystems[0].data_path = DataPath::Kernel;
    s.subsystems[0].passthru_device = "/dev/nvme0";
    s.ports[0].data_path = DataPath::Kernel;
    json j = to_json(s);
    CHECK(j["subsystems"][0]["data_path"] == "kernel");
    CHECK(j["subsystems"][0]["passthru_device"] == "/dev/nvme0");
    CHECK(j["ports"][0]["data_path"] == "kernel");
    auto back = from_json(json::parse(j.dump()));
    REQUIRE(back);
    CHECK(to_json(*back) == j);
    CHECK(back->subsystems[0].data_path == DataPath::Kernel);
    CHECK(back->subsystems[0].passthru_device == "/dev/nvme0");
    CHECK(back->ports[0].data_path == DataPath::Kernel);

    auto old = from_json(before);
    REQUIRE(old);
    CHECK(old->subsystems[0].data_path == DataPath::Nvmfd);
    CHECK(old->subsystems[0].passthru_device.empty());
    CHECK(old->ports[0].data_path == DataPath::Nvmfd);

    json explicit_nvmfd = before;
    explicit_nvmfd["ports"][0]["data_path"] = "nvmfd";
    auto e = from_json(explicit_nvmfd);
    REQUIRE(e);
    CHECK(e->ports[0].data_path == DataPath::Nvmfd);
}

TEST_CASE("a bad data path or passthru device names the field") {
    json j = to_json(sample());
    auto error_of = [](const json& bad) {
        auto r = from_json(bad);
        REQUIRE_FALSE(r);
        return r.error();
    };
    json a = j;
    a["subsystems"][0]["data_path"] = "x";
    CHECK(error_of(a).field == "subsystems[0].data_path");
    CHECK(error_of(a).message == "must be 'nvmfd' or 'kernel', not 'x'");
    json b = j;
    b["ports"][0]["data_path"] = "Kernel";
    CHECK(error_of(b).field == "ports[0].data_path");
    CHECK(error_of(b).message == "must be 'nvmfd' or 'kernel', not 'Kernel'");
    json c = j;
    c["subsystems"][0]["data_path"] = 1;
    CHECK(error_of(c).field == "subsystems[0].data_path");
    json d = j;
    d["subsystems"][0]["passthru_device"] = false;
    CHECK(error_of(d).field == "subsystems[0].passthru_device");
}
