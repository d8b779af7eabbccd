// NVMe/TCP over TLS 1.3 with a PSK (TP 8011) against a live nvmfd: the tools
// initiator through OpenSSL with both cipher suites and verified I/O, wrong
// and unknown PSKs, plaintext on `required` and `allowed` ports, discovery's
// TREQ/TSAS, `openssl s_client` (a TLS client nvmfd did not write)
// carrying a real ICReq, and the quiet after the handshake a kernel TLS host
// needs.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <poll.h>
#include <random>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include "core/auth/tls_psk.hpp"
#include "tests/integration/log_wait.hpp"
#include "tests/integration/nvmfd_process.hpp"
#include "tools/host/controller.hpp"
#include "tools/host/discovery.hpp"
#include "tools/host/errors.hpp"
#include "tools/host/io_queue.hpp"
#include "tools/host/pdu_build.hpp"

extern char** environ;

using namespace nvmfd;
using namespace nvmfd::host;
using testing::NvmfdProcess;
namespace status = proto::status;

namespace {

const std::string kSub = "nqn.2026-11.io.nvmfd:tls";
const std::string kHost = "nqn.2014-08.org.nvmexpress:uuid:7e1e5000-0000-4000-8000-000000000001";
// libnvme's test/psk.c key (SHA-256, 32 bytes) and a SHA-384 one checked by
// `nvme check-tls-key` (nvme-cli 2.3).
const std::string kKey32 = "NVMeTLSkey-1:01:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrZ:";
const std::string kKey48 =
    "NVMeTLSkey-1:02:QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl9gYWJjZGVmZ2hpamtsbW5voBXMjQ==:";
const std::string kOtherKey32 = "NVMeTLSkey-1:01:xgwBHPMcSah5EevXeIl9EvhaKiy8ysWAMaUP8cCAyX7J7+AN:";

// Port 1 requires TLS, port 2 allows it; the host's key is `key`.
NvmfdProcess tls_daemon(const std::string& key) {
    testing::DaemonOptions o;
    o.state_json = R"({"version": 1,
      "subsystems": [{"nqn": ")" + kSub + R"(", "hosts": [")" + kHost + R"("],
                      "host_auth": {")" + kHost + R"(": {"keys": ["tls_psk"]}},
                      "namespaces": [{"nsid": 1, "backend": "malloc", "params": {"size": "64M"}}]}],
      "ports": [{"id": 1, "address": "127.0.0.1", "service": "@PORT@", "secure_channel": "required",
                 "subsystems": [")" + kSub + R"("]},
                {"id": 2, "address": "127.0.0.1", "service": "@PORT2@", "secure_channel": "allowed",
                 "subsystems": [")" + kSub + R"("]}]})";
    o.secrets_json = R"({"version": 1, "subsystems": {")" + kSub + R"(": {")" + kHost + R"(": {"tls_psk": ")" + key +
                     R"("}}}})";
    return NvmfdProcess(o);
}

std::shared_ptr<const TlsCredentials> credentials(const std::string& key, const std::string& subnqn = kSub,
                                                  int version = 1) {
    return tls_credentials(key, kHost, subnqn, version);
}

ControllerOptions options(std::shared_ptr<const TlsCredentials> tls) {
    ControllerOptions o;
    o.subnqn = kSub;
    o.host.hostnqn = kHost;
    o.transport.tls = std::move(tls);
    return o;
}

std::vector<std::byte> pattern(size_t len, uint64_t seed) {
    std::vector<std::byte> v(len);
    std::mt19937_64 rng(seed);
    for (auto& b : v) b = std::byte(rng());
    return v;
}

// An OpenSSL session holding a TLS 1.3 SHA-384 PSK, for s_client -psk_session.
void write_psk_session(const std::string& path, const std::vector<uint8_t>& psk) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    SSL* ssl = SSL_new(ctx);
    static const unsigned char kAes256[] = {0x13, 0x02};
    SSL_SESSION* s = SSL_SESSION_new();
    REQUIRE(SSL_SESSION_set1_master_key(s, psk.data(), psk.size()) == 1);
    REQUIRE(SSL_SESSION_set_cipher(s, SSL_CIPHER_find(ssl, kAes256)) == 1);
    REQUIRE(SSL_SESSION_set_protocol_version(s, TLS1_3_VERSION) == 1);
    FILE* f = std::fopen(path.c_str(), "w");
    REQUIRE(f);
    REQUIRE(PEM_write_SSL_SESSION(f, s) == 1);
    std::fclose(f);
    SSL_SESSION_free(s);
    SSL_free(ssl);
    SSL_CTX_free(ctx);
}

void verified_io(Controller& ctrl) {
    REQUIRE(ctrl.request_io_queues(1) >= 1);
    IoQueue io = ctrl.connect_io_queue(1, 32);
    uint64_t lba = 0;
    // In-capsule, R2T, and reads of a record and of many (16 KiB records).
    for (size_t len : {512ul, 8192ul, 8192ul + 512, 65536ul + 4096, 1ul << 20}) {
        CAPTURE(len);
        auto data = pattern(len, len);
        uint32_t blocks = uint32_t(len / 512);
        REQUIRE(io.write(1, lba, blocks, data) == status::kSuccess);
        std::vector<std::byte> back(len);
        REQUIRE(io.read(1, lba, blocks, back) == status::kSuccess);
        CHECK(back == data);
        lba += blocks;
    }
}

// A bare TLS 1.3 PSK client on a socket, as the Linux host's handshake
// agent (tlshd) is one: OpenSSL without read-ahead, so that it reads
// exactly up to the server's Finished and whatever follows stays in the
// socket.
struct BareTlsClient {
    std::shared_ptr<const TlsCredentials> cred;
    int fd = -1;
    SSL_CTX* ctx = nullptr;
    SSL* ssl = nullptr;

    static int use_psk(SSL* ssl, const EVP_MD*, const unsigned char** id, size_t* idlen, SSL_SESSION** sess) {
        auto* self = static_cast<BareTlsClient*>(SSL_get_app_data(ssl));
        static const unsigned char kAes128[] = {0x13, 0x01}, kAes256[] = {0x13, 0x02};
        SSL_SESSION* s = SSL_SESSION_new();
        SSL_SESSION_set1_master_key(s, self->cred->psk.data(), self->cred->psk.size());
        SSL_SESSION_set_cipher(s, SSL_CIPHER_find(ssl, self->cred->psk.size() == 48 ? kAes256 : kAes128));
        SSL_SESSION_set_protocol_version(s, TLS1_3_VERSION);
        *id = reinterpret_cast<const unsigned char*>(self->cred->identity.data());
        *idlen = self->cred->identity.size();
        *sess = s;
        return 1;
    }

    BareTlsClient(uint16_t port, std::shared_ptr<const TlsCredentials> c) : cred(std::move(c)) {
        fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_port = htons(port);
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0);
        ctx = SSL_CTX_new(TLS_client_method());
        SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
        SSL_CTX_set_ciphersuites(ctx, cred->psk.size() == 48 ? "TLS_AES_256_GCM_SHA384" : "TLS_AES_128_GCM_SHA256");
        ssl = SSL_new(ctx);
        SSL_set_app_data(ssl, this);
        SSL_set_psk_use_session_callback(ssl, use_psk);
        SSL_set_fd(ssl, fd);
    }
    ~BareTlsClient() {
        SSL_free(ssl);
        SSL_CTX_free(ctx);
        if (fd >= 0) ::close(fd);
    }
};

}  // namespace

TEST_CASE("tls: the tools initiator does verified I/O over TLS with both cipher suites") {
    struct Case {
        const std::string& key;
        const char* cipher;
        int version;
    };
    for (const Case& c : {Case{kKey32, "TLS_AES_128_GCM_SHA256", 1}, Case{kKey48, "TLS_AES_256_GCM_SHA384", 1},
                          Case{kKey32, "TLS_AES_128_GCM_SHA256", 0}}) {
        CAPTURE(c.cipher);
        CAPTURE(c.version);
        NvmfdProcess d = tls_daemon(c.key);
        Controller ctrl = Controller::connect({"127.0.0.1", d.port()}, options(credentials(c.key, kSub, c.version)));
        CHECK(ctrl.admin().connection().socket().tls_cipher() == c.cipher);
        verified_io(ctrl);
        CHECK(testing::log_shows(d, std::string("TLS 1.3 on port 1 with ") + c.cipher));
        // Never the key, in any form, in the log.
        CHECK(d.log().find(c.key.substr(16, 24)) == std::string::npos);
    }
}

TEST_CASE("tls: a wrong PSK and an unknown identity are refused") {
    NvmfdProcess d = tls_daemon(kKey32);
    // The host's identity with another key: its digest does not match.
    CHECK_THROWS_AS(Controller::connect({"127.0.0.1", d.port()}, options(credentials(kOtherKey32))), ConnectionError);
    CHECK(testing::log_shows(d, "PSK digest does not match"));
    // A version 0 identity has no digest: the handshake's binder fails instead.
    CHECK_THROWS_AS(Controller::connect({"127.0.0.1", d.port()}, options(credentials(kOtherKey32, kSub, 0))),
                    ConnectionError);
    // An identity that is not an NVMe one.
    auto bogus = std::make_shared<TlsCredentials>(*credentials(kKey32));
    bogus->identity = "Client_identity";
    CHECK_THROWS_AS(Controller::connect({"127.0.0.1", d.port()}, options(bogus)), ConnectionError);
    CHECK(testing::log_shows(d, "no PSK for this identity"));
    // The right key still works afterwards.
    Controller ok = Controller::connect({"127.0.0.1", d.port()}, options(credentials(kKey32)));
    CHECK(ok.cntlid() != 0);
}

TEST_CASE("tls: a plaintext ICReq to a required port is refused; an allowed port takes both") {
    NvmfdProcess d = tls_daemon(kKey32);
    CHECK_THROWS_AS(Controller::connect({"127.0.0.1", d.port()}, options(nullptr)), ConnectionError);
    CHECK(testing::log_shows(d, "requires TLS (secure channel required): plaintext connection refused"));
    CHECK_FALSE(testing::log_line_with(d, "notice", "plaintext connection refused").empty());

    Controller plain = Controller::connect({"127.0.0.1", d.second_port()}, options(nullptr));
    CHECK_FALSE(plain.admin().connection().socket().tls());
    Controller secure = Controller::connect({"127.0.0.1", d.second_port()}, options(credentials(kKey32)));
    CHECK(secure.admin().connection().socket().tls());
    verified_io(plain);
    verified_io(secure);
}

TEST_CASE("tls: a host cannot connect over TLS under another host's NQN") {
    NvmfdProcess d = tls_daemon(kKey32);
    ControllerOptions o = options(credentials(kKey32));
    o.host.hostnqn = "nqn.2014-08.org.nvmexpress:uuid:7e1e5000-0000-4000-8000-0000000000ff";
    CHECK_THROWS_AS(Controller::connect({"127.0.0.1", d.second_port()}, o), StatusError);
    CHECK(testing::log_shows(d, "not the one its TLS PSK identity names"));
}

TEST_CASE("tls: discovery log entries advertise TLS 1.3 and whether it is required") {
    NvmfdProcess d = tls_daemon(kKey32);
    ControllerOptions o;
    o.host.hostnqn = kHost;
    // A discovery controller lists the entries of its own port.
    auto entry_of = [&](const DiscoveryLog& log) -> DiscoveryEntry {
        for (const auto& e : log.entries)
            if (e.subnqn == kSub) return e;
        FAIL("no entry for the subsystem");
        return {};
    };
    DiscoveryEntry allowed = entry_of(discover({"127.0.0.1", d.second_port()}, o));  // plaintext
    CHECK(allowed.sectype == proto::kTcpSectypeTls13);
    CHECK((allowed.treq & 3) == proto::treq::kSecureChannelNotRequired);
    // Over TLS on the required port: the identity names the discovery NQN.
    o.transport.tls = credentials(kKey32, proto::kDiscoveryNqn);
    DiscoveryEntry required = entry_of(discover({"127.0.0.1", d.port()}, o));
    CHECK(required.sectype == proto::kTcpSectypeTls13);
    CHECK((required.treq & 3) == proto::treq::kSecureChannelRequired);
}

TEST_CASE("tls: openssl s_client carrying a real ICReq gets an ICResp") {
    for (const std::string* key : {&kKey32, &kKey48}) {
        NvmfdProcess d = tls_daemon(*key);
        auto cred = credentials(*key);
        std::string hex;
        for (uint8_t b : cred->psk) hex += fmt::format("{:02x}", b);
        std::string suite = cred->psk.size() == 48 ? "TLS_AES_256_GCM_SHA384" : "TLS_AES_128_GCM_SHA256";
        std::vector<std::string> args = {"openssl", "s_client", "-connect", fmt::format("127.0.0.1:{}", d.port()),
                                         "-tls1_3", "-quiet", "-psk_identity", cred->identity, "-ciphersuites", suite};
        // s_client's -psk always makes a SHA-256 session; a SHA-384 PSK
        // travels in a session file (-psk_session) naming its cipher suite.
        std::string session_file = (d.dir() / "psk-session.pem").string();
        if (cred->psk.size() == 48) {
            write_psk_session(session_file, cred->psk);
            args.insert(args.end(), {"-psk_session", session_file});
        } else {
            args.insert(args.end(), {"-psk", hex});
        }
        int in[2], out[2];
        REQUIRE(::pipe(in) == 0);
        REQUIRE(::pipe(out) == 0);
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, in[0], 0);
        posix_spawn_file_actions_adddup2(&fa, out[1], 1);
        posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        pid_t pid = -1;
        REQUIRE(posix_spawnp(&pid, "openssl", &fa, nullptr, argv.data(), environ) == 0);
        posix_spawn_file_actions_destroy(&fa);
        ::close(in[0]);
        ::close(out[1]);
        // The ICReq the tools library builds; s_client only carries it.
        auto icreq = pdu::icreq_bytes(TransportOptions{});
        REQUIRE(::write(in[1], icreq.data(), icreq.size()) == ssize_t(icreq.size()));
        std::vector<uint8_t> reply;
        uint8_t buf[256];
        auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (reply.size() < sizeof(proto::tcp::ICResp) && std::chrono::steady_clock::now() < deadline) {
            pollfd p{out[0], POLLIN, 0};
            if (::poll(&p, 1, 200) <= 0) continue;
            ssize_t n = ::read(out[0], buf, sizeof buf);
            if (n <= 0) break;
            reply.insert(reply.end(), buf, buf + n);
        }
        ::kill(pid, SIGTERM);
        ::waitpid(pid, nullptr, 0);
        ::close(in[1]);
        ::close(out[0]);
        REQUIRE(reply.size() == sizeof(proto::tcp::ICResp));
        proto::tcp::ICResp resp;
        std::memcpy(&resp, reply.data(), sizeof resp);
        CHECK(resp.ch.type == proto::tcp::PduType::ICResp);
        CHECK(resp.ch.hlen == sizeof resp);
        CHECK(resp.ch.plen == sizeof resp);
        CHECK(resp.pfv == 0);
        CHECK(resp.maxh2cdata >= 4096);
        CHECK(testing::log_shows(d, "TLS 1.3 on port 1 with " + suite));
    }
}

// The Linux host's handshake agent hands the socket to kernel TLS right
// after its Finished, with the server's record sequence at 0: anything the
// server sends then (a NewSessionTicket above all) reaches nvme-tcp as a
// non-data record, and the host gives up ("nvme_tcp: queue 0: unhandled TLS
// record 22", seen in the interop `tls` scenario with tickets turned on).
// So nothing may follow the server's Finished until the host's ICReq.
TEST_CASE("tls: nothing follows the server's Finished until the host's ICReq (kernel TLS hosts)") {
    for (const std::string* key : {&kKey32, &kKey48}) {
        CAPTURE(key->size());
        NvmfdProcess d = tls_daemon(*key);
        BareTlsClient c(d.port(), credentials(*key));
        ERR_clear_error();
        REQUIRE(SSL_connect(c.ssl) == 1);
        CHECK(SSL_session_reused(c.ssl) == 1);  // the external PSK, no certificate
        CHECK(SSL_pending(c.ssl) == 0);
        // Long enough for the server to have answered our Finished.
        pollfd p{c.fd, POLLIN, 0};
        CHECK(::poll(&p, 1, 500) == 0);
        // And the session is good for NVMe/TCP.
        auto icreq = pdu::icreq_bytes(TransportOptions{});
        REQUIRE(SSL_write(c.ssl, icreq.data(), int(icreq.size())) == int(icreq.size()));
        proto::tcp::ICResp resp{};
        size_t got = 0;
        while (got < sizeof resp) {
            int n = SSL_read(c.ssl, reinterpret_cast<uint8_t*>(&resp) + got, int(sizeof resp - got));
            REQUIRE(n > 0);
            got += size_t(n);
        }
        CHECK(resp.ch.type == proto::tcp::PduType::ICResp);
    }
}

// Hosts whose keyring was filled by libnvme 1.4-1.10 (nvme-cli 2.4-2.10) or
// `nvme check-tls-key --compat` hold a TLS PSK derived with libnvme's
// non-RFC HkdfLabel (and, for version 1 in the older versions, the whole
// identity as the context). nvmfd offers OpenSSL the candidate whose binder
// the ClientHello carries: each such host connects, says so in a notice,
// and a PSK that is none of them is still refused.
TEST_CASE("tls: hosts with keys from older libnvme derivations are told apart by the binder") {
    using auth::PskDerivation;
    for (int version : {0, 1}) {
        CAPTURE(version);
        // The identity as such a host sends it: its digest from the
        // non-RFC retained PSK.
        auto configured = auth::parse_tls_psk(kKey32);
        REQUIRE(configured);
        auto retained = auth::retained_psk_compat(*configured, kHost);
        REQUIRE(retained);
        auto id = auth::make_psk_identity(version, auth::PskHash::Sha256, retained->bytes(), kHost, kSub);
        REQUIRE(id);
        auto candidates = auth::tls_psk_candidates(*id, kKey32);
        REQUIRE(candidates);
        int tried = 0;
        for (const auto& c : *candidates) {
            if (c.derivation == PskDerivation::Rfc8446) continue;  // the first test case's
            CAPTURE(auth::derivation_name(c.derivation));
            auto cred = std::make_shared<TlsCredentials>();
            cred->identity = auth::format_psk_identity(*id);
            cred->psk.assign(c.psk.bytes().begin(), c.psk.bytes().end());
            NvmfdProcess d = tls_daemon(kKey32);
            Controller ctrl = Controller::connect({"127.0.0.1", d.port()}, options(cred));
            verified_io(ctrl);
            CHECK(testing::log_shows(d, "was derived with " + std::string(auth::derivation_name(c.derivation))));
            ++tried;
        }
        CHECK(tried == (version == 0 ? 1 : 2));
        // The same identity with a PSK that is no candidate.
        auto wrong = std::make_shared<TlsCredentials>();
        wrong->identity = auth::format_psk_identity(*id);
        wrong->psk.assign(32, 0x42);
        NvmfdProcess d = tls_daemon(kKey32);
        CHECK_THROWS_AS(Controller::connect({"127.0.0.1", d.port()}, options(wrong)), ConnectionError);
    }
}
