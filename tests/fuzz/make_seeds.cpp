// Writes the fuzzers' seed corpora (tests/fuzz/corpus/<target>/): what a
// real host and a real control plane produce, built with the same code
// they use. The tools' initiator library (tools/host) builds every PDU and
// SQE; the state files are ExportSpecs written by control::to_json, the
// state file's own writer. Run by `tools/fuzz.sh --seeds`.
//   make_seeds OUTPUT_DIR
#include <cstdlib>
#include <tuple>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/control/state_json.hpp"
#include "core/proto/fabrics.hpp"
#include "core/proto/log_pages.hpp"
#include "tests/fuzz/fuzz_model.hpp"
#include "tests/fuzz/host_session.hpp"
#include "tests/tls_client_hello.hpp"
#include "tools/host/commands.hpp"

using namespace nvmfd;
namespace fs = std::filesystem;
using host::cmd::PropertySize;
using proto::FeatureId;
using proto::IdentifyCns;
using proto::LogPageId;

namespace {

fs::path out_dir;

void write(const std::string& target, const std::string& name, const void* data, size_t size) {
    fs::create_directories(out_dir / target);
    std::ofstream f(out_dir / target / name, std::ios::binary | std::ios::trunc);
    f.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
}

std::vector<std::byte> pattern(size_t n) {
    std::vector<std::byte> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = std::byte(i * 7 + 1);
    return v;
}

// Authentication Send / Receive (SECP 0xE9, SPSP 0x01 0x01) as a host
// starting DH-HMAC-CHAP would send them: an AUTH_Negotiate message.
proto::Sqe auth_command(proto::FabricsType type, uint32_t length) {
    proto::Sqe sqe{};
    sqe.opcode = uint8_t(proto::AdminOpcode::Fabrics);
    reinterpret_cast<uint8_t*>(&sqe)[4] = uint8_t(type);
    sqe.cdw10 = 0xE9010100;
    sqe.cdw11 = length;
    return sqe;
}
std::vector<std::byte> auth_negotiate() {
    std::vector<std::byte> m(32);
    m[0] = std::byte(0x00);  // AUTH_Negotiate
    m[1] = std::byte(0x00);
    m[4] = std::byte(0x01);  // one protocol descriptor: DH-HMAC-CHAP
    m[8] = std::byte(0x01);
    m[12] = std::byte(0x01);  // SHA-256
    m[16] = std::byte(0x00);  // null DH group
    return m;
}

// ------------------------------------------------------------ fuzz_tcp

void tcp_seeds() {
    {
        fuzz::HostStream s;
        write("fuzz_tcp", "icreq", s.bytes().data(), s.bytes().size());
    }
    for (bool digests : {false, true}) {
        fuzz::HostStream s(host::TransportOptions{.header_digest = digests, .data_digest = digests});
        s.connect(fuzz::kSubsystemNqn, 0, 0xffff);
        s.command(host::cmd::property_get(0x00, PropertySize::Eight));
        s.enable();
        s.command(host::cmd::property_get(0x1c, PropertySize::Four));
        s.transport_command(host::cmd::identify(IdentifyCns::Controller), 4096);
        s.transport_command(host::cmd::identify(IdentifyCns::ActiveNamespaceList), 4096);
        s.transport_command(host::cmd::get_log_page(uint8_t(LogPageId::AsymmetricNamespaceAccess), 4096), 4096);
        s.command(host::cmd::set_features(uint8_t(FeatureId::NumberOfQueues), 0x00030003));
        s.command(host::cmd::async_event_request());
        s.command(host::cmd::keep_alive());
        s.command(host::cmd::disconnect());
        std::string name = digests ? "admin-session-digests" : "admin-session";
        write("fuzz_tcp", name, s.bytes().data(), s.bytes().size());
    }
    {
        fuzz::HostStream s;
        s.connect(proto::kDiscoveryNqn, 0, 0xffff);
        s.enable();
        s.transport_command(host::cmd::get_log_page(uint8_t(LogPageId::Discovery), 4096), 4096);
        write("fuzz_tcp", "discovery", s.bytes().data(), s.bytes().size());
    }
    for (bool digests : {false, true}) {
        // I/O queue 1 of the harness's controller 1: R2T and in-capsule
        // writes, reads, the rest.
        fuzz::HostStream s(host::TransportOptions{.header_digest = digests, .data_digest = digests});
        s.connect(fuzz::kSubsystemNqn, 1, 1);
        // First, so that it gets the first command slot: TTAG 1 in its R2T.
        auto big = pattern(32768);
        uint16_t cid = s.transport_command(host::cmd::write(1, 8, 64), uint32_t(big.size()));
        s.h2c_data(cid, 1, 0, std::span(big).first(16384), false);
        s.h2c_data(cid, 1, 16384, std::span(big).subspan(16384), true);
        auto small = pattern(2048);
        s.command(host::cmd::write(1, 0, 4), small);
        s.transport_command(host::cmd::read(1, 0, 72), 72 * 512);
        s.transport_command(host::cmd::read(2, 0, 2), 2 * 4096);
        s.command(host::cmd::compare(1, 0, 4), small);
        s.command(host::cmd::write_zeroes(2, 4, 8));
        s.command(host::cmd::flush(1));
        auto ranges = pattern(16);
        s.command(host::cmd::dataset_management(1, 1), ranges);
        s.command(host::cmd::disconnect());
        std::string name = digests ? "io-queue-digests" : "io-queue";
        write("fuzz_tcp", name, s.bytes().data(), s.bytes().size());
    }
}

// ------------------------------------------------------------ fuzz_commands

struct Records {
    std::vector<uint8_t> bytes;
    explicit Records(uint8_t prelude) { bytes.push_back(prelude); }
    // In-capsule data, when there is any.
    void add(proto::Sqe sqe, bool io, std::span<const std::byte> data = {}) {
        if (!data.empty()) {
            sqe.sgl.type = proto::sgl::kInCapsule;
            sqe.sgl.length = uint32_t(data.size());
        }
        append(sqe, io, data);
    }
    // Data the transport moves: the SGL a host uses for it.
    void add_transport(proto::Sqe sqe, bool io, uint32_t length, std::span<const std::byte> data = {}) {
        sqe.sgl.type = proto::sgl::kTransport;
        sqe.sgl.length = length;
        append(sqe, io, data);
    }
    void append(const proto::Sqe& sqe, bool io, std::span<const std::byte> data) {
        bytes.push_back(io ? 1 : 0);
        auto* p = reinterpret_cast<const uint8_t*>(&sqe);
        bytes.insert(bytes.end(), p, p + sizeof sqe);
        bytes.push_back(uint8_t(data.size()));
        bytes.push_back(uint8_t(data.size() >> 8));
        auto* d = reinterpret_cast<const uint8_t*>(data.data());
        bytes.insert(bytes.end(), d, d + data.size());
    }
    void save(const std::string& name) const { write("fuzz_commands", name, bytes.data(), bytes.size()); }
};

void command_seeds() {
    {
        // Nothing connected: the fuzzer's own Connect and properties.
        Records r(0);
        auto c = fuzz::connect_command(fuzz::kSubsystemNqn, 0, 0xffff);
        r.add(c.sqe, false, c.data);
        r.add(host::cmd::property_get(0x00, PropertySize::Eight), false);
        r.add(host::cmd::property_get(0x08, PropertySize::Four), false);
        r.add(fuzz::enable_command(), false);
        r.add(host::cmd::property_get(0x1c, PropertySize::Four), false);
        r.add(host::cmd::property_set(0x14, 0x4000, PropertySize::Four), false);  // shutdown notification
        r.add(host::cmd::disconnect(), false);
        r.save("connect-properties");
    }
    {
        Records r(1);
        for (auto cns : {IdentifyCns::Namespace, IdentifyCns::Controller, IdentifyCns::ActiveNamespaceList,
                         IdentifyCns::NamespaceDescriptorList, IdentifyCns::IoCommandSetNamespace,
                         IdentifyCns::IoCommandSetController, IdentifyCns::IoCommandSetActiveNamespaceList,
                         IdentifyCns::IoCommandSetIndependentNamespace})
            r.add_transport(host::cmd::identify(cns, 1), false, 4096);
        r.save("admin-identify");
    }
    {
        Records r(1);
        for (auto lid : {LogPageId::SupportedLogPages, LogPageId::ErrorInformation, LogPageId::SmartHealth,
                         LogPageId::FirmwareSlot, LogPageId::ChangedNamespaceList,
                         LogPageId::CommandsSupportedAndEffects, LogPageId::AsymmetricNamespaceAccess})
            r.add_transport(host::cmd::get_log_page(uint8_t(lid), 512), false, 512);
        r.add_transport(host::cmd::get_log_page(uint8_t(LogPageId::AsymmetricNamespaceAccess), 4096, 0,
                                                proto::kBroadcastNsid, proto::kAnaLogReturnGroupsOnly),
                        false, 4096);
        r.save("admin-log-pages");
    }
    {
        Records r(1);
        for (auto fid : {FeatureId::Arbitration, FeatureId::PowerManagement, FeatureId::TemperatureThreshold,
                         FeatureId::ErrorRecovery, FeatureId::VolatileWriteCache, FeatureId::NumberOfQueues,
                         FeatureId::InterruptCoalescing, FeatureId::InterruptVectorConfig,
                         FeatureId::WriteAtomicity, FeatureId::AsyncEventConfig,
                         FeatureId::AutonomousPowerStateTransition, FeatureId::KeepAliveTimer,
                         FeatureId::HostIdentifier}) {
            r.add(host::cmd::get_features(uint8_t(fid)), false);
            r.add(host::cmd::set_features(uint8_t(fid), 0x00010001), false);
        }
        r.add(host::cmd::keep_alive(), false);
        r.add(host::cmd::async_event_request(), false);
        r.add(host::cmd::async_event_request(), false);
        r.save("admin-features");
    }
    {
        // Authentication Send/Receive: reached through the fabrics dispatch
        // whatever the core does with them.
        Records r(0);
        auto c = fuzz::connect_command(fuzz::kSubsystemNqn, 0, 0xffff);
        r.add(c.sqe, false, c.data);
        auto negotiate = auth_negotiate();
        r.add(auth_command(proto::FabricsType::AuthenticationSend, uint32_t(negotiate.size())), false, negotiate);
        r.add_transport(auth_command(proto::FabricsType::AuthenticationReceive, 512), false, 512);
        r.save("fabrics-authentication");
    }
    {
        Records r(2);
        auto small = pattern(2048);
        r.add(host::cmd::write(1, 0, 4), true, small);
        auto big = pattern(16384);
        r.add_transport(host::cmd::write(2, 1, 4), true, 16384, big);
        r.add_transport(host::cmd::read(1, 0, 8), true, 4096);
        r.add_transport(host::cmd::read(2, 255, 1), true, 4096);
        r.add_transport(host::cmd::compare(1, 0, 4), true, 2048, small);
        r.add(host::cmd::write_zeroes(1, 16, 32, true), true);
        r.add(host::cmd::flush(2), true);
        auto ranges = pattern(32);
        r.add(host::cmd::dataset_management(1, 2), true, ranges);
        r.add(host::cmd::disconnect(), true);
        r.save("io-commands");
    }
    {
        Records r(3);
        r.add_transport(host::cmd::get_log_page(uint8_t(LogPageId::Discovery), 1024), false, 1024);
        r.add_transport(host::cmd::identify(IdentifyCns::Controller), false, 4096);
        r.add(host::cmd::keep_alive(), false);
        r.add(host::cmd::async_event_request(), false);
        r.save("discovery");
    }
}

// ------------------------------------------------------------ fuzz_state

void state_seeds() {
    auto save = [](const std::string& name, const control::ExportSpec& spec) {
        std::string text = control::to_json(spec).dump(2) + "\n";
        write("fuzz_state", name, text.data(), text.size());
    };
    save("empty.json", control::ExportSpec{});

    control::ExportSpec one;
    control::SubsystemSpec sub;
    sub.nqn = "nqn.2026-11.io.nvmfd:db1";
    sub.serial = "DB1";
    sub.model = "nvmfd";
    sub.allow_any_host = true;
    sub.namespaces.push_back({1, "malloc", {{"size", "1048576"}, {"block_size", "512"}},
                              "4f1b2c3d-0000-4000-8000-0123456789ab", "0123456789abcdef0123456789abcdef", 1, {}});
    one.subsystems.push_back(sub);
    control::PortSpec port;
    port.id = 1;
    port.address = "127.0.0.1";
    port.service = "4420";
    port.subsystems = {sub.nqn};
    one.ports.push_back(port);
    save("malloc-port.json", one);

    control::ExportSpec full = one;
    full.ana_groups = {1, 2};
    auto& s = full.subsystems[0];
    s.allow_any_host = false;
    s.hosts = {"nqn.2014-08.org.nvmexpress:uuid:11111111-2222-4333-8444-555555555555"};
    s.min_cntlid = 100;
    s.max_cntlid = 199;
    s.namespaces.push_back({2, "uring", {{"path", "/srv/db1.img"}, {"size", "1G"}},
                            "", "", 2, {s.hosts[0]}});
    control::PortSpec p2 = port;
    p2.id = 2;
    p2.family = "ipv6";
    p2.address = "::1";
    p2.ana_states = {{1, proto::AnaState::NonOptimized}, {2, proto::AnaState::Inaccessible}};
    full.ports.push_back(p2);
    full.policies.push_back({"failover", "function on_start() end\n", "/etc/nvmfd/policies/failover.lua",
                             {{"peer", "10.0.0.2:4420"}}});
    save("hosts-ana-policy.json", full);
}

// ------------------------------------------------------------ fuzz_lua_args

void lua_seeds() {
    auto save = [](const std::string& name, const std::string& text) {
        write("fuzz_lua_args", name, text.data(), text.size());
    };
    save("empty.json", "{}");
    save("subsystem.json",
         R"({"nqn":"nqn.2026-11.io.nvmfd:db2","subsystem":{"serial":"DB2","allow_any_host":true,"max_namespaces":8,)"
         R"("min_cntlid":10,"max_cntlid":20}})");
    save("namespace.json",
         R"({"nqn":"nqn.2026-11.io.nvmfd:fuzz","namespace":{"nsid":3,"backend":"malloc","params":{"size":"1M",)"
         R"("block_size":4096,"shared":true},"ana_group":1,"visible_to":["nqn.2014-08.org.nvmexpress:uuid:)"
         R"(11111111-2222-4333-8444-555555555555"]},"nsid":3})");
    save("ana-link.json",
         R"({"nqn":"nqn.2026-11.io.nvmfd:fuzz","port":1,"group":2,"state":"inaccessible",)"
         R"("host":"nqn.2014-08.org.nvmexpress:uuid:11111111-2222-4333-8444-555555555555",)"
         R"("unlink":{"force":true},"remove":{"force":false},"level":"info","message":"hello"})");
    save("nested.json", R"({"nqn":[1,2,[3,{"a":null,"b":-1.5e300}]],"namespace":{"params":{"x":[]}}})");
}

// ---------------------------------------------------------- fuzz_dhchap

// Records for fuzz_dhchap: [kind][length LE16][payload]; even kinds send.
void dhchap_seeds() {
    auto record = [](std::vector<uint8_t>& out, uint8_t kind, const std::vector<uint8_t>& payload, uint16_t al = 0) {
        uint16_t len = kind % 2 == 0 ? uint16_t(payload.size()) : al;
        out.push_back(kind);
        out.push_back(uint8_t(len));
        out.push_back(uint8_t(len >> 8));
        if (kind % 2 == 0) out.insert(out.end(), payload.begin(), payload.end());
    };
    auto negotiate = [](uint8_t tid, std::vector<uint8_t> hashes, std::vector<uint8_t> groups) {
        std::vector<uint8_t> m(8 + 64);
        m[1] = 0x00;  // NEGOTIATE (common message)
        m[4] = tid;
        m[7] = 1;     // NAPD
        m[8] = 0x01;  // AUTHID DH-HMAC-CHAP
        m[10] = uint8_t(hashes.size());
        m[11] = uint8_t(groups.size());
        std::copy(hashes.begin(), hashes.end(), m.begin() + 12);
        std::copy(groups.begin(), groups.end(), m.begin() + 12 + 30);
        return m;
    };
    auto reply = [](uint8_t tid, uint8_t hl, bool cvalid, uint16_t dhvlen) {
        std::vector<uint8_t> m(16 + 2 * hl + dhvlen, 0x5a);
        m[0] = 0x01;
        m[1] = 0x02;
        m[2] = m[3] = 0;
        m[4] = tid;
        m[5] = 0;
        m[6] = hl;
        m[7] = 0;
        m[8] = cvalid;
        m[9] = 0;
        m[10] = uint8_t(dhvlen);
        m[11] = uint8_t(dhvlen >> 8);
        return m;
    };
    auto save = [](const std::string& name, const std::vector<uint8_t>& v) {
        write("fuzz_dhchap", name, v.data(), v.size());
    };
    for (auto [name, settings, group, dhvlen] :
         {std::tuple{"null-sha256", 0x01, 0, 0}, std::tuple{"ffdhe2048-sha512", 0x0c, 1, 256},
          std::tuple{"bidirectional", 0x1f, 1, 256}}) {
        std::vector<uint8_t> v{uint8_t(settings)};
        record(v, 0, negotiate(7, {1, 2, 3}, {uint8_t(group)}));
        record(v, 1, {}, 4096);
        record(v, 2, reply(7, settings == 0x01 ? 32 : 64, settings & 0x10, uint16_t(dhvlen)));
        record(v, 3, {}, 4096);
        save(name, v);
    }
    std::vector<uint8_t> v{0x0f};
    record(v, 1, {}, 4096);  // a receive before anything
    record(v, 0, negotiate(1, {3}, {5}));
    record(v, 1, {}, 8);  // too small for the answer
    save("out-of-order", v);
}

}  // namespace

// ---------------------------------------------------------- fuzz_tls_binder

// ClientHellos OpenSSL's TLS 1.3 client sends with an NVMe PSK identity,
// for each suite (the identities fuzz_tls_binder looks for).
void tls_binder_seeds() {
    for (auto [name, identity, len] : {std::tuple{"sha256", "NVMe0R01 nqn.host nqn.sub", 32},
                                       std::tuple{"sha384", "NVMe0R02 nqn.host nqn.sub", 48}}) {
        testing::PskOffer o{identity, std::vector<uint8_t>(size_t(len), 0x5a)};
        auto hello = testing::client_hello(o);
        if (hello.empty()) {
            std::fprintf(stderr, "make_seeds: OpenSSL wrote no ClientHello\n");
            std::exit(1);
        }
        write("fuzz_tls_binder", std::string("client-hello-") + name, hello.data(), hello.size());
    }
}

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s OUTPUT_DIR\n", argv[0]);
        return 2;
    }
    out_dir = argv[1];
    tcp_seeds();
    command_seeds();
    state_seeds();
    lua_seeds();
    dhchap_seeds();
    tls_binder_seeds();
    return 0;
}
