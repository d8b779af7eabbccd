// tlshd-lite: the smallest handshake agent the Linux kernel's NVMe/TCP host
// can use for TLS (the role of ktls-utils' tlshd, which Debian 12 does not
// package). Test equipment for the interop guest, not part of nvmfd.
//
// The kernel (net/handshake, Documentation/netlink/specs/handshake.yaml)
// announces a pending handshake on the "tlshd" multicast group of the
// "handshake" generic-netlink family. The agent answers with
// HANDSHAKE_CMD_ACCEPT and gets the connected socket as a new fd, the
// message type, the auth mode, the key serials of the PSKs to offer and the
// keyring they live in. It reads the PSK from the keyring (the key's
// description is the PSK identity), runs a TLS 1.3 client handshake with
// OpenSSL, programs kernel TLS (TCP_ULP "tls", TLS_TX, TLS_RX) with the
// traffic keys, and reports HANDSHAKE_CMD_DONE with the status and the key
// it authenticated with. The kernel then carries NVMe/TCP over kTLS.
//
// Supported, and nothing else (anything else fails loudly): ClientHello
// (the host side), PSK authentication, TLS_AES_128_GCM_SHA256 (32-byte PSK)
// and TLS_AES_256_GCM_SHA384 (48-byte PSK). No libnl and no libkeyutils:
// generic netlink and keyctl are a few raw system calls here, so the guest
// needs only OpenSSL's libraries.
//
//   tlshd-lite            serve handshakes until killed; one child each
#include <cerrno>
#include <csignal>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <arpa/inet.h>
#include <linux/genetlink.h>
#include <linux/keyctl.h>
#include <linux/netlink.h>
#include <linux/tls.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <openssl/ssl.h>

namespace {

// include/uapi/linux/handshake.h (not in Debian 12's 6.1 kernel headers).
constexpr const char* kFamilyName = "handshake";
constexpr const char* kMcastGroup = "tlshd";
enum : uint8_t { kCmdReady = 1, kCmdAccept = 2, kCmdDone = 3 };
enum : uint32_t { kHandlerClassTlshd = 1 };
enum : uint32_t { kMsgTypeClientHello = 1, kMsgTypeServerHello = 2 };
enum : uint32_t { kAuthUnauth = 1, kAuthPsk = 2, kAuthX509 = 3 };
enum : uint16_t {
    kAcceptSockfd = 1,
    kAcceptHandlerClass = 2,
    kAcceptMessageType = 3,
    kAcceptTimeout = 4,
    kAcceptAuthMode = 5,
    kAcceptPeerIdentity = 6,
    kAcceptCertificate = 7,
    kAcceptPeername = 8,
    kAcceptKeyring = 9,
};
enum : uint16_t { kDoneStatus = 1, kDoneSockfd = 2, kDoneRemoteAuth = 3 };

void say(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void say(const char* fmt, ...) {
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    std::printf("tlshd-lite[%d]: %s\n", int(getpid()), line);
    std::fflush(stdout);
}

std::string openssl_errors() {
    std::string out;
    while (unsigned long e = ERR_get_error()) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        out += out.empty() ? "" : "; ";
        out += buf;
    }
    return out.empty() ? "no OpenSSL error queued" : out;
}

// --- generic netlink, by hand ------------------------------------------------

struct Attr {
    uint16_t type;
    std::string_view data;
    uint32_t u32() const {
        uint32_t v = 0;
        std::memcpy(&v, data.data(), std::min(data.size(), sizeof v));
        return v;
    }
};

std::vector<Attr> parse_attrs(std::string_view buf) {
    std::vector<Attr> out;
    while (buf.size() >= NLA_HDRLEN) {
        nlattr a;
        std::memcpy(&a, buf.data(), sizeof a);
        if (a.nla_len < NLA_HDRLEN || a.nla_len > buf.size()) break;
        out.push_back({uint16_t(a.nla_type & NLA_TYPE_MASK), buf.substr(NLA_HDRLEN, a.nla_len - NLA_HDRLEN)});
        buf.remove_prefix(std::min<size_t>(NLA_ALIGN(a.nla_len), buf.size()));
    }
    return out;
}

class GenlMessage {
public:
    GenlMessage(uint16_t family, uint8_t cmd, uint16_t flags) {
        buf_.resize(NLMSG_HDRLEN + GENL_HDRLEN);
        auto* nh = reinterpret_cast<nlmsghdr*>(buf_.data());
        nh->nlmsg_type = family;
        nh->nlmsg_flags = NLM_F_REQUEST | flags;
        auto* gh = reinterpret_cast<genlmsghdr*>(buf_.data() + NLMSG_HDRLEN);
        gh->cmd = cmd;
        gh->version = 1;
    }
    void put(uint16_t type, const void* data, size_t len) {
        size_t at = buf_.size();
        buf_.resize(at + NLA_ALIGN(NLA_HDRLEN + len));
        nlattr a{uint16_t(NLA_HDRLEN + len), type};
        std::memcpy(buf_.data() + at, &a, sizeof a);
        std::memcpy(buf_.data() + at + NLA_HDRLEN, data, len);
    }
    void put_u32(uint16_t type, uint32_t v) { put(type, &v, sizeof v); }
    void put_string(uint16_t type, const char* s) { put(type, s, std::strlen(s) + 1); }
    std::vector<uint8_t>& finish(uint32_t seq) {
        auto* nh = reinterpret_cast<nlmsghdr*>(buf_.data());
        nh->nlmsg_len = uint32_t(buf_.size());
        nh->nlmsg_seq = seq;
        return buf_;
    }

private:
    std::vector<uint8_t> buf_;
};

class GenlSocket {
public:
    GenlSocket() : fd_(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC)) {
        sockaddr_nl sa{};
        sa.nl_family = AF_NETLINK;
        if (fd_ >= 0 && ::bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
            ::close(fd_);
            fd_ = -1;
        }
    }
    ~GenlSocket() {
        if (fd_ >= 0) ::close(fd_);
    }
    GenlSocket(const GenlSocket&) = delete;
    GenlSocket& operator=(const GenlSocket&) = delete;
    bool ok() const { return fd_ >= 0; }
    int fd() const { return fd_; }

    bool send(GenlMessage& m) {
        auto& b = m.finish(++seq_);
        sockaddr_nl to{};
        to.nl_family = AF_NETLINK;
        return ::sendto(fd_, b.data(), b.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to) == ssize_t(b.size());
    }

    // The next message for us: a genl payload (attributes), or an error
    // (NLMSG_ERROR with a nonzero code; an ACK yields an empty payload).
    struct Reply {
        int error = 0;  // negative errno
        uint8_t cmd = 0;
        std::string body;  // attributes after the genl header
        bool ack = false;
    };
    std::optional<Reply> receive() {
        for (;;) {
            if (pending_.empty()) {
                char buf[16384];
                ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
                if (n < 0 && errno == EINTR) continue;
                if (n <= 0) return std::nullopt;
                pending_.assign(buf, size_t(n));
            }
            nlmsghdr nh;
            if (pending_.size() < sizeof nh) {
                pending_.clear();
                continue;
            }
            std::memcpy(&nh, pending_.data(), sizeof nh);
            size_t len = std::min<size_t>(nh.nlmsg_len, pending_.size());
            std::string msg = pending_.substr(0, len);
            pending_.erase(0, std::min<size_t>(NLMSG_ALIGN(len), pending_.size()));
            if (len < NLMSG_HDRLEN) continue;
            Reply r;
            if (nh.nlmsg_type == NLMSG_ERROR) {
                nlmsgerr e;
                std::memcpy(&e, msg.data() + NLMSG_HDRLEN, std::min(sizeof e, len - NLMSG_HDRLEN));
                r.error = e.error;
                r.ack = e.error == 0;
                return r;
            }
            if (nh.nlmsg_type == NLMSG_DONE || len < NLMSG_HDRLEN + GENL_HDRLEN) continue;
            genlmsghdr gh;
            std::memcpy(&gh, msg.data() + NLMSG_HDRLEN, sizeof gh);
            r.cmd = gh.cmd;
            r.body = msg.substr(NLMSG_HDRLEN + GENL_HDRLEN);
            return r;
        }
    }

private:
    int fd_;
    uint32_t seq_ = 0;
    std::string pending_;
};

struct Family {
    uint16_t id = 0;
    uint32_t tlshd_group = 0;
};

std::optional<Family> resolve_family(GenlSocket& s) {
    GenlMessage m(GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 0);
    m.put_string(CTRL_ATTR_FAMILY_NAME, kFamilyName);
    if (!s.send(m)) return std::nullopt;
    auto r = s.receive();
    if (!r || r->error) {
        say("the kernel has no '%s' generic-netlink family (%s): is CONFIG_NET_HANDSHAKE set?", kFamilyName,
            r ? std::strerror(-r->error) : "no reply");
        return std::nullopt;
    }
    Family f;
    for (auto& a : parse_attrs(r->body)) {
        if (a.type == CTRL_ATTR_FAMILY_ID) f.id = uint16_t(a.u32());
        if (a.type != CTRL_ATTR_MCAST_GROUPS) continue;
        for (auto& group : parse_attrs(a.data)) {
            std::string_view name;
            uint32_t id = 0;
            for (auto& g : parse_attrs(group.data)) {
                if (g.type == CTRL_ATTR_MCAST_GRP_NAME) name = std::string_view(g.data.data());
                if (g.type == CTRL_ATTR_MCAST_GRP_ID) id = g.u32();
            }
            if (name == kMcastGroup) f.tlshd_group = id;
        }
    }
    if (!f.id || !f.tlshd_group) {
        say("the '%s' family has no '%s' multicast group", kFamilyName, kMcastGroup);
        return std::nullopt;
    }
    return f;
}

// --- keys ------------------------------------------------------------------

long keyctl(int op, unsigned long a, unsigned long b = 0, unsigned long c = 0) {
    return ::syscall(SYS_keyctl, op, a, b, c, 0);
}

// KEYCTL_DESCRIBE gives "type;uid;gid;perm;description".
std::optional<std::string> key_description(int32_t serial) {
    char buf[1024];
    long n = keyctl(KEYCTL_DESCRIBE, static_cast<unsigned long>(serial), reinterpret_cast<unsigned long>(buf), sizeof buf);
    if (n <= 0 || size_t(n) > sizeof buf) return std::nullopt;
    std::string d(buf, strnlen(buf, size_t(n)));
    for (int i = 0; i < 4; ++i) {
        auto semi = d.find(';');
        if (semi == std::string::npos) return std::nullopt;
        d.erase(0, semi + 1);
    }
    return d;
}

std::optional<std::vector<uint8_t>> key_payload(int32_t serial) {
    std::vector<uint8_t> buf(128);
    long n = keyctl(KEYCTL_READ, static_cast<unsigned long>(serial), reinterpret_cast<unsigned long>(buf.data()),
                    buf.size());
    if (n < 0 || size_t(n) > buf.size()) return std::nullopt;
    buf.resize(size_t(n));
    return buf;
}

// --- TLS -------------------------------------------------------------------

struct Suite {
    const char* name;
    unsigned char id[2];
    const char* digest;
    size_t key_len;
    uint16_t ktls_cipher;
};
constexpr Suite kAes128{"TLS_AES_128_GCM_SHA256", {0x13, 0x01}, "SHA256", 16, TLS_CIPHER_AES_GCM_128};
constexpr Suite kAes256{"TLS_AES_256_GCM_SHA384", {0x13, 0x02}, "SHA384", 32, TLS_CIPHER_AES_GCM_256};

struct Handshake {
    std::string identity;
    std::vector<uint8_t> psk;
    const Suite* suite = nullptr;
    std::vector<uint8_t> client_secret, server_secret;  // application traffic secrets
    ~Handshake() {
        for (auto* v : {&psk, &client_secret, &server_secret})
            if (!v->empty()) OPENSSL_cleanse(v->data(), v->size());
    }
};

int use_psk(SSL* ssl, const EVP_MD* md, const unsigned char** id, size_t* idlen, SSL_SESSION** sess) {
    auto* h = static_cast<Handshake*>(SSL_get_app_data(ssl));
    *sess = nullptr;
    const SSL_CIPHER* cipher = SSL_CIPHER_find(ssl, h->suite->id);
    if (!cipher || (md && md != SSL_CIPHER_get_handshake_digest(cipher))) return 0;
    SSL_SESSION* s = SSL_SESSION_new();
    if (!s || !SSL_SESSION_set1_master_key(s, h->psk.data(), h->psk.size()) || !SSL_SESSION_set_cipher(s, cipher) ||
        !SSL_SESSION_set_protocol_version(s, TLS1_3_VERSION)) {
        SSL_SESSION_free(s);
        return 0;
    }
    *id = reinterpret_cast<const unsigned char*>(h->identity.data());
    *idlen = h->identity.size();
    *sess = s;
    return 1;
}

std::vector<uint8_t> from_hex(std::string_view hex) {
    std::vector<uint8_t> out;
    for (size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(uint8_t(std::stoul(std::string(hex.substr(i, 2)), nullptr, 16)));
    return out;
}

// The traffic secrets reach kTLS through OpenSSL's key log: the only
// public way to them in OpenSSL 3.0, whose own KTLS does not cover TLS 1.3
// receive.
void keylog(const SSL* ssl, const char* line) {
    auto* h = static_cast<Handshake*>(SSL_get_app_data(ssl));
    std::string_view l(line);
    auto take = [&](std::string_view label, std::vector<uint8_t>& into) {
        if (!l.starts_with(label)) return;
        auto last = l.rfind(' ');
        if (last != std::string_view::npos) into = from_hex(l.substr(last + 1));
    };
    take("CLIENT_TRAFFIC_SECRET_0 ", h->client_secret);
    take("SERVER_TRAFFIC_SECRET_0 ", h->server_secret);
}

// RFC 8446 7.1: HKDF-Expand-Label(secret, label, "", length).
std::optional<std::vector<uint8_t>> expand_label(const char* digest, const std::vector<uint8_t>& secret,
                                                 std::string_view label, size_t length) {
    std::string full = "tls13 " + std::string(label);
    std::vector<uint8_t> info{uint8_t(length >> 8), uint8_t(length), uint8_t(full.size())};
    info.insert(info.end(), full.begin(), full.end());
    info.push_back(0);  // empty context
    EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
    EVP_KDF_CTX* ctx = kdf ? EVP_KDF_CTX_new(kdf) : nullptr;
    int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, const_cast<char*>(digest), 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<uint8_t*>(secret.data()), secret.size()),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info.data(), info.size()),
        OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
        OSSL_PARAM_construct_end(),
    };
    std::vector<uint8_t> out(length);
    bool ok = ctx && EVP_KDF_derive(ctx, out.data(), out.size(), params) == 1;
    EVP_KDF_CTX_free(ctx);
    EVP_KDF_free(kdf);
    if (!ok) return std::nullopt;
    return out;
}

// One direction's crypto info for the kernel: the two suites' structs
// differ only in their key size.
template <typename Info>
int program_ktls(int fd, int direction, int cipher, const std::vector<uint8_t>& key, const std::vector<uint8_t>& iv) {
    Info ci{};
    ci.info.version = TLS_1_3_VERSION;
    ci.info.cipher_type = uint16_t(cipher);
    std::memcpy(ci.key, key.data(), sizeof ci.key);
    std::memcpy(ci.salt, iv.data(), sizeof ci.salt);
    std::memcpy(ci.iv, iv.data() + sizeof ci.salt, sizeof ci.iv);
    int rc = ::setsockopt(fd, SOL_TLS, direction, &ci, sizeof ci);
    OPENSSL_cleanse(&ci, sizeof ci);
    return rc;
}

// Program one direction of kernel TLS: key and IV from the traffic secret,
// record sequence 0 (nothing was sent or received under these keys yet).
bool set_ktls(int fd, int direction, const Suite& suite, const std::vector<uint8_t>& secret) {
    auto key = expand_label(suite.digest, secret, "key", suite.key_len);
    auto iv = expand_label(suite.digest, secret, "iv", 12);
    if (!key || !iv) return false;
    int rc = suite.ktls_cipher == TLS_CIPHER_AES_GCM_128
                 ? program_ktls<tls12_crypto_info_aes_gcm_128>(fd, direction, TLS_CIPHER_AES_GCM_128, *key, *iv)
                 : program_ktls<tls12_crypto_info_aes_gcm_256>(fd, direction, TLS_CIPHER_AES_GCM_256, *key, *iv);
    OPENSSL_cleanse(key->data(), key->size());
    OPENSSL_cleanse(iv->data(), iv->size());
    return rc == 0;
}

void set_timeouts(int fd, unsigned ms) {
    timeval tv{time_t(ms / 1000), suseconds_t(ms % 1000 * 1000)};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

// A TLS 1.3 ClientHello with the PSK, then kTLS. Returns 0 or a positive
// errno for HANDSHAKE_CMD_DONE (EACCES: the peer refused us).
int client_psk_handshake(int fd, Handshake& h, unsigned timeout_ms) {
    // TLS 1.3 only, the one suite the PSK's hash allows; an SSL takes these
    // from its context when it is made.
    SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
    int status = EIO;
    if (!ctx || !SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
        !SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) || !SSL_CTX_set_ciphersuites(ctx, h.suite->name)) {
        say("OpenSSL: %s", openssl_errors().c_str());
        SSL_CTX_free(ctx);
        return status;
    }
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    SSL_CTX_set_keylog_callback(ctx, keylog);
    SSL* ssl = SSL_new(ctx);
    if (!ssl) {
        say("OpenSSL: %s", openssl_errors().c_str());
        SSL_CTX_free(ctx);
        return status;
    }
    SSL_set_app_data(ssl, &h);
    SSL_set_psk_use_session_callback(ssl, use_psk);
    SSL_set_fd(ssl, fd);
    set_timeouts(fd, timeout_ms);
    ERR_clear_error();
    int r = SSL_connect(ssl);
    set_timeouts(fd, 0);
    if (r != 1) {
        int err = SSL_get_error(ssl, r);
        say("TLS handshake failed (SSL_get_error %d%s%s): %s", err, err == SSL_ERROR_SYSCALL ? ", " : "",
            err == SSL_ERROR_SYSCALL ? std::strerror(errno) : "", openssl_errors().c_str());
        status = EACCES;
    } else if (!SSL_session_reused(ssl)) {
        say("the server did not accept the PSK (no PSK in its ServerHello)");
        status = EACCES;
    } else if (SSL_has_pending(ssl)) {
        // Bytes OpenSSL already read would be lost to the kernel.
        say("data after the handshake arrived before kTLS could take over");
    } else if (std::string_view(SSL_get_cipher_name(ssl)) != h.suite->name) {
        say("negotiated %s, asked for %s", SSL_get_cipher_name(ssl), h.suite->name);
    } else if (h.client_secret.empty() || h.server_secret.empty()) {
        say("OpenSSL gave no traffic secrets");
    } else if (::setsockopt(fd, SOL_TCP, TCP_ULP, "tls", sizeof "tls") != 0) {
        say("TCP_ULP tls: %s (is the tls module loaded?)", std::strerror(errno));
    } else if (!set_ktls(fd, TLS_TX, *h.suite, h.client_secret) || !set_ktls(fd, TLS_RX, *h.suite, h.server_secret)) {
        say("kTLS TLS_TX/TLS_RX: %s", std::strerror(errno));
    } else {
        say("TLS 1.3 with %s, PSK identity '%s'; kTLS TX+RX set", SSL_get_cipher_name(ssl), h.identity.c_str());
        status = 0;
    }
    SSL_free(ssl);  // no close_notify: the session goes on in the kernel
    SSL_CTX_free(ctx);
    return status;
}

std::string peer_of(int fd) {
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "?";
    char host[INET6_ADDRSTRLEN] = "?";
    uint16_t port = 0;
    if (ss.ss_family == AF_INET) {
        auto* a = reinterpret_cast<sockaddr_in*>(&ss);
        inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
        port = ntohs(a->sin_port);
    } else if (ss.ss_family == AF_INET6) {
        auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
        port = ntohs(a->sin6_port);
    }
    return std::string(host) + ":" + std::to_string(port);
}

bool report_done(GenlSocket& s, const Family& f, int sockfd, int status, int32_t remote_auth) {
    GenlMessage m(f.id, kCmdDone, NLM_F_ACK);
    m.put_u32(kDoneStatus, uint32_t(status));
    m.put_u32(kDoneSockfd, uint32_t(sockfd));
    if (status == 0 && remote_auth) m.put_u32(kDoneRemoteAuth, uint32_t(remote_auth));
    if (!s.send(m)) return false;
    for (;;) {
        auto r = s.receive();
        if (!r) return false;
        if (r->error) {
            say("HANDSHAKE_CMD_DONE refused: %s", std::strerror(-r->error));
            return false;
        }
        if (r->ack) return true;
    }
}

// One handshake, in its own process: accept, handshake, report.
int serve_one(const Family& f) {
    GenlSocket s;
    if (!s.ok()) return 1;
    GenlMessage m(f.id, kCmdAccept, 0);
    m.put_u32(kAcceptHandlerClass, kHandlerClassTlshd);
    if (!s.send(m)) return 1;
    auto r = s.receive();
    if (!r || r->error) {
        // Another agent (or an earlier child) took it: nothing pending.
        say("HANDSHAKE_CMD_ACCEPT: %s", r ? std::strerror(-r->error) : "no reply");
        return 1;
    }
    int sockfd = -1;
    uint32_t msg_type = 0, auth = 0, timeout_ms = 10000, keyring = 0;
    std::vector<int32_t> peerids;
    for (auto& a : parse_attrs(r->body)) {
        switch (a.type) {
        case kAcceptSockfd: sockfd = int(a.u32()); break;
        case kAcceptMessageType: msg_type = a.u32(); break;
        case kAcceptTimeout: timeout_ms = a.u32() ? a.u32() : timeout_ms; break;
        case kAcceptAuthMode: auth = a.u32(); break;
        case kAcceptPeerIdentity: peerids.push_back(int32_t(a.u32())); break;
        case kAcceptKeyring: keyring = a.u32(); break;
        default: break;
        }
    }
    if (sockfd < 0) {
        say("HANDSHAKE_CMD_ACCEPT gave no socket");
        return 1;
    }
    std::string peer = peer_of(sockfd);
    auto done = [&](int status, int32_t key) {
        bool reported = report_done(s, f, sockfd, status, key);
        ::close(sockfd);
        if (!reported) say("could not report the result for %s to the kernel", peer.c_str());
        return status == 0 && reported ? 0 : 1;
    };
    if (msg_type != kMsgTypeClientHello) {
        say("%s: only the client side (ClientHello) is supported, the kernel asked for message type %u%s",
            peer.c_str(), msg_type, msg_type == kMsgTypeServerHello ? " (ServerHello)" : "");
        return done(EOPNOTSUPP, 0);
    }
    if (auth != kAuthPsk) {
        say("%s: only PSK authentication is supported, the kernel asked for auth mode %u%s", peer.c_str(), auth,
            auth == kAuthX509 ? " (x.509)" : auth == kAuthUnauth ? " (unauthenticated)" : "");
        return done(EOPNOTSUPP, 0);
    }
    if (peerids.empty()) {
        say("%s: PSK handshake without a key serial", peer.c_str());
        return done(ENOKEY, 0);
    }
    // The PSK's keyring (.nvme) becomes ours, as tlshd does: a key in a
    // keyring linked to our session keyring is possessed, so readable.
    if (keyring && keyctl(KEYCTL_LINK, keyring, static_cast<unsigned long>(KEY_SPEC_SESSION_KEYRING)) != 0)
        say("linking keyring %08x into the session keyring: %s", keyring, std::strerror(errno));
    Handshake h;
    int32_t serial = peerids.front();
    auto desc = key_description(serial);
    auto payload = key_payload(serial);
    if (!desc || !payload) {
        say("%s: key %08x: %s", peer.c_str(), uint32_t(serial), std::strerror(errno));
        return done(ENOKEY, 0);
    }
    h.identity = *desc;
    h.psk = std::move(*payload);
    if (h.psk.size() == 32) h.suite = &kAes128;
    else if (h.psk.size() == 48) h.suite = &kAes256;
    else {
        say("%s: key %08x is %zu bytes: a TLS PSK here is 32 (SHA-256) or 48 (SHA-384)", peer.c_str(), uint32_t(serial),
            h.psk.size());
        return done(EKEYREJECTED, 0);
    }
    say("%s: ClientHello with key %08x, identity '%s', %s, timeout %u ms", peer.c_str(), uint32_t(serial),
        h.identity.c_str(), h.suite->name, timeout_ms);
    return done(client_psk_handshake(sockfd, h, timeout_ms), serial);
}

}  // namespace

int main() {
    std::signal(SIGCHLD, SIG_IGN);  // children reap themselves
    GenlSocket s;
    if (!s.ok()) {
        say("netlink socket: %s", std::strerror(errno));
        return 1;
    }
    auto f = resolve_family(s);
    if (!f) return 1;
    int group = int(f->tlshd_group);
    if (::setsockopt(s.fd(), SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof group) != 0) {
        say("joining the '%s' group: %s", kMcastGroup, std::strerror(errno));
        return 1;
    }
    say("listening for handshake requests (family %u, group %u)", f->id, f->tlshd_group);
    for (;;) {
        auto r = s.receive();
        if (!r) {
            if (errno == ENOBUFS) {  // a burst overflowed our buffer: those hosts time out and retry
                say("netlink receive: %s (notifications lost)", std::strerror(errno));
                continue;
            }
            say("netlink receive: %s", std::strerror(errno));
            return 1;
        }
        if (r->error || r->cmd != kCmdReady) continue;
        uint32_t handler = 0;
        for (auto& a : parse_attrs(r->body))
            if (a.type == kAcceptHandlerClass) handler = a.u32();
        if (handler != kHandlerClassTlshd) continue;
        pid_t pid = fork();
        if (pid == 0) _exit(serve_one(*f));
        if (pid < 0) say("fork: %s", std::strerror(errno));
    }
}
