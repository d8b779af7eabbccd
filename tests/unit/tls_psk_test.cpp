// TLS PSK derivations (core/auth/tls_psk) against values computed without
// OpenSSL (tests/unit/gen_tls_psk_vectors.py: hashlib/hmac from the spec's
// text), libnvme's published interchange vector and keys nvme-cli 2.3 wrote.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "core/auth/tls_psk.hpp"
#include "tests/unit/tls_psk_vectors.hpp"

using namespace nvmfd::auth;

namespace {

std::vector<uint8_t> bytes_of(std::span<const uint8_t> s) { return {s.begin(), s.end()}; }

}  // namespace

TEST_CASE("tls psk: interchange text as nvme-cli and libnvme write it") {
    // libnvme test/psk.c: the configured PSK and its exported text.
    const std::vector<uint8_t> key = {0x55, 0x12, 0xDB, 0xB6, 0x73, 0x7D, 0x01, 0x06, 0xF6, 0x59, 0x75,
                                      0xB7, 0x73, 0xDF, 0xB0, 0x11, 0xFF, 0xC3, 0x44, 0xBC, 0xF4, 0x42,
                                      0xE2, 0xDD, 0x6D, 0x8B, 0xC4, 0x87, 0x0B, 0x5D, 0x5B, 0x03};
    const char* text = "NVMeTLSkey-1:01:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrZ:";
    auto p = parse_tls_psk(text);
    REQUIRE(p);
    CHECK(p->hash == PskHash::Sha256);
    CHECK(bytes_of(p->key.bytes()) == key);
    CHECK(format_tls_psk(PskHash::Sha256, key) == text);

    // Written by `nvme gen-tls-key --hmac 1` / `--hmac 2` (nvme-cli 2.3).
    auto a = parse_tls_psk("NVMeTLSkey-1:01:xgwBHPMcSah5EevXeIl9EvhaKiy8ysWAMaUP8cCAyX7J7+AN:");
    REQUIRE(a);
    CHECK(a->key.size() == 32);
    auto b = parse_tls_psk("NVMeTLSkey-1:02:IiU9Jj5xtgM2tWLqToUKQ41NjEUW49Q92Ku5Kgw2LjXvOzHFMxqglK3WRZ2MVFcO+pr+qQ==:");
    REQUIRE(b);
    CHECK(b->hash == PskHash::Sha384);
    CHECK(b->key.size() == 48);
    // From a file: a trailing newline is fine.
    CHECK(parse_tls_psk(std::string(text) + "\n"));
}

TEST_CASE("tls psk: bad interchange text is refused without quoting the key") {
    const std::string good = "NVMeTLSkey-1:01:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrZ:";
    std::string typo = good;
    typo[20] = typo[20] == 'A' ? 'B' : 'A';
    auto e = parse_tls_psk(typo);
    REQUIRE_FALSE(e);
    CHECK(e.error().message.find("CRC") != std::string::npos);
    CHECK(e.error().message.find(typo.substr(16, 20)) == std::string::npos);
    // 01 says SHA-256, which needs 32 bytes; this key has 48.
    auto wrong_len = parse_tls_psk("NVMeTLSkey-1:01:QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl9gYWJjZGVmZ2hpamtsbW5voBXMjQ==:");
    REQUIRE_FALSE(wrong_len);
    CHECK(wrong_len.error().message.find("48") != std::string::npos);
    CHECK_FALSE(parse_tls_psk("NVMeTLSkey-1:03:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrZ:"));
    CHECK_FALSE(parse_tls_psk("DHHC-1:01:VRLbtnN9AQb2WXW3c9+wEf/DRLz0QuLdbYvEhwtdWwNf9LrZ:"));
    CHECK_FALSE(parse_tls_psk(""));
}

TEST_CASE("tls psk: retained PSK, identity and TLS PSK match the independent computation") {
    for (const auto& v : tls_psk_vectors::kVectors) {
        CAPTURE(v.name);
        auto configured = parse_tls_psk(v.interchange);
        REQUIRE(configured);
        CHECK(int(configured->hash) == v.key_hash);
        auto retained = retained_psk(*configured, tls_psk_vectors::kHost);
        REQUIRE(retained);
        CHECK(bytes_of(retained->bytes()) == v.retained);

        auto id = make_psk_identity(v.version, PskHash(v.id_hash), retained->bytes(), tls_psk_vectors::kHost,
                                    tls_psk_vectors::kSub);
        REQUIRE(id);
        CHECK(format_psk_identity(*id) == v.identity);
        auto parsed = parse_psk_identity(v.identity);
        REQUIRE(parsed);
        CHECK(parsed->version == v.version);
        CHECK(parsed->hostnqn == tls_psk_vectors::kHost);
        CHECK(parsed->subnqn == tls_psk_vectors::kSub);

        auto psk = derive_tls_psk(*parsed, retained->bytes());
        REQUIRE(psk);
        CHECK(bytes_of(psk->bytes()) == v.tls_psk);
        auto one_shot = tls_psk_for_identity(*parsed, v.interchange);
        REQUIRE(one_shot);
        CHECK(bytes_of(one_shot->bytes()) == v.tls_psk);

        auto retained_old = retained_psk_compat(*configured, tls_psk_vectors::kHost);
        REQUIRE(retained_old);
        auto id_old = make_psk_identity(v.version, PskHash(v.id_hash), retained_old->bytes(), tls_psk_vectors::kHost,
                                        tls_psk_vectors::kSub);
        REQUIRE(id_old);
        auto old = derive_tls_psk_compat(*id_old, retained_old->bytes());
        REQUIRE(old);
        CHECK(bytes_of(old->bytes()) == v.tls_psk_compat);
        CHECK(v.tls_psk_compat != v.tls_psk);
    }
}

// Every PSK a host may hold for an identity, checked against the Python
// reference: RFC 8446's HkdfLabel, libnvme's non-RFC one with the RFC's
// context (nvme-cli --compat), and with the whole identity as the version 1
// context (libnvme 1.4-1.10). A version 1 digest narrows the set to one
// retained PSK's derivations; a version 0 identity cannot.
TEST_CASE("tls psk: candidates for the derivations of older libnvme versions") {
    using D = PskDerivation;
    auto bytes_for = [](const std::vector<TlsPskCandidate>& c, D d) {
        for (const auto& x : c)
            if (x.derivation == d) return bytes_of(x.psk.bytes());
        return std::vector<uint8_t>{};
    };
    auto kinds = [](const std::vector<TlsPskCandidate>& c) {
        std::vector<D> out;
        for (const auto& x : c) out.push_back(x.derivation);
        return out;
    };
    for (const auto& v : tls_psk_vectors::kVectors) {
        CAPTURE(v.name);
        auto rfc_id = parse_psk_identity(v.identity);
        REQUIRE(rfc_id);
        auto from_rfc = tls_psk_candidates(*rfc_id, v.interchange);
        REQUIRE(from_rfc);
        CHECK(from_rfc->front().derivation == D::Rfc8446);
        CHECK(bytes_of(from_rfc->front().psk.bytes()) == v.tls_psk);
        auto compat_id = parse_psk_identity(v.identity_compat);
        REQUIRE(compat_id);
        auto from_compat = tls_psk_candidates(*compat_id, v.interchange);
        REQUIRE(from_compat);
        if (v.version == 0) {
            // Nothing in the identity tells: both HkdfLabels, in that order.
            CHECK(kinds(*from_rfc) == std::vector<D>{D::Rfc8446, D::LibnvmeCompat});
            CHECK(bytes_for(*from_rfc, D::LibnvmeCompat) == v.tls_psk_compat);
            CHECK(v.tls_psk_old == v.tls_psk_compat);  // the context is the identity either way
        } else if (v.key_hash == 0) {
            // An untransformed key: one retained PSK, one digest, all three.
            CHECK(kinds(*from_rfc) == std::vector<D>{D::Rfc8446, D::LibnvmeCompat, D::LibnvmeOld});
            CHECK(bytes_for(*from_rfc, D::LibnvmeCompat) == v.tls_psk_compat);
            CHECK(bytes_for(*from_rfc, D::LibnvmeOld) == v.tls_psk_old);
        } else {
            // The digest names the retained PSK: only its derivations.
            CHECK(kinds(*from_rfc) == std::vector<D>{D::Rfc8446});
            CHECK(kinds(*from_compat) == std::vector<D>{D::LibnvmeCompat, D::LibnvmeOld});
            CHECK(bytes_for(*from_compat, D::LibnvmeCompat) == v.tls_psk_compat);
            CHECK(bytes_for(*from_compat, D::LibnvmeOld) == v.tls_psk_old);
            CHECK(v.tls_psk_old != v.tls_psk_compat);
        }
    }
    // A digest that fits neither retained PSK: refused, as before.
    const auto& v = tls_psk_vectors::kVectors.front();
    auto id = parse_psk_identity(v.identity);
    REQUIRE(id);
    auto other = tls_psk_candidates(*id, "NVMeTLSkey-1:01:xgwBHPMcSah5EevXeIl9EvhaKiy8ysWAMaUP8cCAyX7J7+AN:");
    REQUIRE_FALSE(other);
    CHECK(other.error().code == nvmfd::ErrorCode::PermissionDenied);
}

TEST_CASE("tls psk: a version 1 identity whose digest belongs to another key is refused") {
    const auto& v = tls_psk_vectors::kVectors.front();
    REQUIRE(v.version == 1);
    auto id = parse_psk_identity(v.identity);
    REQUIRE(id);
    // The other 32-byte key of the set, as the host's configured key.
    auto other = tls_psk_for_identity(*id, "NVMeTLSkey-1:01:xgwBHPMcSah5EevXeIl9EvhaKiy8ysWAMaUP8cCAyX7J7+AN:");
    REQUIRE_FALSE(other);
    CHECK(other.error().code == nvmfd::ErrorCode::PermissionDenied);
}

TEST_CASE("tls psk: identity parsing") {
    auto v0 = parse_psk_identity("NVMe0R02 nqn.host nqn.sub");
    REQUIRE(v0);
    CHECK(v0->version == 0);
    CHECK(v0->hash == PskHash::Sha384);
    CHECK(format_psk_identity(*v0) == "NVMe0R02 nqn.host nqn.sub");
    CHECK_FALSE(parse_psk_identity("NVMe1G01 nqn.host nqn.sub digest"));  // generated PSK
    CHECK_FALSE(parse_psk_identity("NVMe1R03 nqn.host nqn.sub digest"));
    CHECK_FALSE(parse_psk_identity("NVMe1R01 nqn.host nqn.sub"));         // no digest
    CHECK_FALSE(parse_psk_identity("NVMe0R01 nqn.host nqn.sub extra"));
    CHECK_FALSE(parse_psk_identity("NVMe0R01 nqn.host  nqn.sub"));
    CHECK_FALSE(parse_psk_identity("Client_identity"));                   // openssl s_client's default
    CHECK(cipher_suite_for(PskHash::Sha256) == "TLS_AES_128_GCM_SHA256");
    CHECK(cipher_suite_for(PskHash::Sha384) == "TLS_AES_256_GCM_SHA384");
}
