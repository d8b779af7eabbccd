#include "core/auth/tls_psk.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <memory>
#include <stdexcept>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include "core/auth/crypto.hpp"
#include "core/auth/key_text.hpp"

namespace nvmfd::auth {
namespace {

constexpr std::string_view kPrefix = "NVMeTLSkey-1";
constexpr std::string_view kHmacSeed = "NVMe-over-Fabrics";

const char* digest_name(PskHash h) {
    switch (h) {
    case PskHash::Sha256: return "SHA256";
    case PskHash::Sha384: return "SHA384";
    default: return nullptr;
    }
}

Error crypto_error(std::string_view what) {
    return Error{ErrorCode::Internal, fmt::format("OpenSSL could not compute the {}", what), {}};
}

// RFC 8446 section 7.1: struct { uint16 length; opaque label<7..255>
// ("tls13 " + label); opaque context<0..255>; } HkdfLabel.
Result<std::vector<uint8_t>> hkdf_label(size_t length, std::string_view label, std::string_view context) {
    constexpr std::string_view prefix = "tls13 ";
    if (prefix.size() + label.size() > 255 || context.size() > 255)
        return make_error(ErrorCode::InvalidArgument, "HKDF label or context longer than 255 bytes");
    std::string info;
    info += char(length >> 8);
    info += char(length & 0xff);
    info += char(prefix.size() + label.size());
    info.append(prefix).append(label);
    info += char(context.size());
    info.append(context);
    return std::vector<uint8_t>(info.begin(), info.end());
}

// libnvme before 1.11: the length in host (little-endian) order, no length
// bytes before label and context.
std::vector<uint8_t> hkdf_label_compat(size_t length, std::string_view label, std::string_view context) {
    std::string info;
    info += char(length & 0xff);
    info += char(length >> 8);
    info.append("tls13 ").append(label).append(context);
    return std::vector<uint8_t>(info.begin(), info.end());
}

// HKDF-Expand(HKDF-Extract(salt = 0, ikm), info, out_len).
Result<Secret> hkdf(PskHash hash, std::span<const uint8_t> ikm, std::span<const uint8_t> info, size_t out_len) {
    const char* md = digest_name(hash);
    if (!md) return make_error(ErrorCode::InvalidArgument, "no hash function for the derivation");
    std::unique_ptr<EVP_KDF, decltype(&EVP_KDF_free)> kdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr), EVP_KDF_free);
    if (!kdf) return nvmfd::unexpected(crypto_error("HKDF"));
    std::unique_ptr<EVP_KDF_CTX, decltype(&EVP_KDF_CTX_free)> ctx(EVP_KDF_CTX_new(kdf.get()), EVP_KDF_CTX_free);
    if (!ctx) return nvmfd::unexpected(crypto_error("HKDF"));
    // No salt: HKDF-Extract then uses HashLen zero bytes (RFC 5869 2.2),
    // which is what "HKDF-Extract(0, ...)" means.
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, const_cast<char*>(md), 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<uint8_t*>(ikm.data()), ikm.size()),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<uint8_t*>(info.data()), info.size()),
        OSSL_PARAM_construct_end(),
    };
    std::vector<uint8_t> out(out_len);
    if (EVP_KDF_derive(ctx.get(), out.data(), out.size(), params) != 1) {
        OPENSSL_cleanse(out.data(), out.size());
        return nvmfd::unexpected(crypto_error("HKDF"));
    }
    return Secret(std::move(out));
}

// PskHash is the interchange format's hash indicator, whose values are the
// NVMe hash identifiers (01 SHA-256, 02 SHA-384) auth::Hmac takes.
static_assert(uint8_t(PskHash::Sha256) == 1 && uint8_t(PskHash::Sha384) == 2);

Result<std::vector<uint8_t>> hmac(PskHash hash, std::span<const uint8_t> key, std::span<const std::string_view> parts) {
    if (!digest_name(hash)) return make_error(ErrorCode::InvalidArgument, "no hash function for the HMAC");
    // Hmac throws only when OpenSSL itself fails; this file's callers get a Result.
    try {
        Hmac mac(uint8_t(hash), key);
        for (auto p : parts) mac.update(p);
        return mac.final();
    } catch (const std::runtime_error&) {
        return nvmfd::unexpected(crypto_error("HMAC"));
    }
}

std::string hash_field(PskHash h) { return fmt::format("{:02d}", int(h)); }

Result<PskHash> parse_hash_field(std::string_view f, bool allow_none) {
    if (f == "01") return PskHash::Sha256;
    if (f == "02") return PskHash::Sha384;
    if (f == "00" && allow_none) return PskHash::None;
    return make_error(ErrorCode::InvalidArgument, fmt::format("unknown hash indicator '{}'", f));
}

Result<Secret> derive_with(const PskIdentity& id, std::span<const uint8_t> retained, bool compat) {
    size_t len = hash_length(id.hash);
    if (!len) return make_error(ErrorCode::InvalidArgument, "the identity names no hash");
    std::string context;
    if (id.version == 0) {
        context = format_psk_identity(id);
    } else {
        auto expected = psk_digest(id.hash, retained, id.hostnqn, id.subnqn);
        if (!expected) return nvmfd::unexpected(expected.error());
        // Not a secret comparison (the digest travels in clear), but cheap to do right.
        if (expected->size() != id.digest.size() || CRYPTO_memcmp(expected->data(), id.digest.data(), id.digest.size()))
            return make_error(ErrorCode::PermissionDenied, "the identity's PSK digest does not match the host's key");
        context = hash_field(id.hash) + " " + id.digest;
    }
    if (compat) {
        auto info = hkdf_label_compat(len, "nvme-tls-psk", context);
        return hkdf(id.hash, retained, info, len);
    }
    auto info = hkdf_label(len, "nvme-tls-psk", context);
    if (!info) return nvmfd::unexpected(info.error());
    return hkdf(id.hash, retained, *info, len);
}

Result<Secret> retained_with(const ConfiguredPsk& c, std::string_view hostnqn, bool compat) {
    auto key = c.key.bytes();
    if (c.hash == PskHash::None) return Secret(std::vector<uint8_t>(key.begin(), key.end()));
    if (compat) return hkdf(c.hash, key, hkdf_label_compat(key.size(), "HostNQN", hostnqn), key.size());
    auto info = hkdf_label(key.size(), "HostNQN", hostnqn);
    if (!info) return nvmfd::unexpected(info.error());
    return hkdf(c.hash, key, *info, key.size());
}

}  // namespace

Secret& Secret::operator=(Secret&& o) noexcept {
    if (this != &o) {
        if (!bytes_.empty()) OPENSSL_cleanse(bytes_.data(), bytes_.size());
        bytes_ = std::move(o.bytes_);
        o.bytes_.clear();
    }
    return *this;
}

Secret::~Secret() {
    if (!bytes_.empty()) OPENSSL_cleanse(bytes_.data(), bytes_.size());
}

size_t hash_length(PskHash h) {
    switch (h) {
    case PskHash::Sha256: return 32;
    case PskHash::Sha384: return 48;
    default: return 0;
    }
}

std::string_view cipher_suite_for(PskHash hash) {
    return hash == PskHash::Sha384 ? "TLS_AES_256_GCM_SHA384" : "TLS_AES_128_GCM_SHA256";
}

Result<ConfiguredPsk> parse_tls_psk(std::string_view text) {
    // Keys pasted from a file or a terminal carry white space around them.
    while (!text.empty() && std::isspace(uint8_t(text.front()))) text.remove_prefix(1);
    while (!text.empty() && std::isspace(uint8_t(text.back()))) text.remove_suffix(1);
    auto decoded = decode_key_text(text, kPrefix, "tls-psk");
    if (!decoded) return nvmfd::unexpected(decoded.error());
    if (decoded->hash > 2)
        return make_error(ErrorCode::InvalidArgument,
                          fmt::format("TLS PSK: unknown hash indicator {:02} (00, 01 or 02)", decoded->hash), "tls-psk");
    auto hash = PskHash(decoded->hash);
    size_t n = decoded->key.size();
    if (n != 32 && n != 48)
        return make_error(ErrorCode::InvalidArgument, fmt::format("TLS PSK: the key is {} bytes, not 32 or 48", n));
    if (hash != PskHash::None && n != hash_length(hash))
        return make_error(ErrorCode::InvalidArgument,
                          fmt::format("TLS PSK: hash indicator {:02} needs a {}-byte key, this one has {}",
                                      decoded->hash, hash_length(hash), n),
                          "tls-psk");
    return ConfiguredPsk{hash, Secret(std::move(decoded->key))};
}

std::string format_tls_psk(PskHash hash, std::span<const uint8_t> key) {
    return encode_key_text(kPrefix, uint8_t(hash), std::vector<uint8_t>(key.begin(), key.end()));
}

Result<Secret> retained_psk(const ConfiguredPsk& configured, std::string_view hostnqn) {
    return retained_with(configured, hostnqn, false);
}

Result<Secret> retained_psk_compat(const ConfiguredPsk& configured, std::string_view hostnqn) {
    return retained_with(configured, hostnqn, true);
}

Result<PskIdentity> parse_psk_identity(std::string_view s) {
    auto bad = [](std::string_view why) {
        return make_error(ErrorCode::InvalidArgument, fmt::format("not an NVMe TLS PSK identity: {}", why));
    };
    // "NVMe" version type hash ' ' ...
    if (s.size() < 9 || s.substr(0, 4) != "NVMe") return bad("no NVMe prefix");
    PskIdentity id;
    if (s[4] == '0') id.version = 0;
    else if (s[4] == '1') id.version = 1;
    else return bad("unknown version");
    if (s[5] == 'G') return bad("generated PSKs (secure channel concatenation) are not supported");
    if (s[5] != 'R') return bad("unknown PSK type");
    auto hash = parse_hash_field(s.substr(6, 2), false);
    if (!hash) return bad(hash.error().message);
    id.hash = *hash;
    if (s[8] != ' ') return bad("no space after the hash");
    // NQNs hold no spaces (NVMe base specification, "NVMe Qualified Names").
    std::vector<std::string_view> fields;
    std::string_view rest = s.substr(9);
    while (!rest.empty()) {
        size_t sp = rest.find(' ');
        fields.push_back(rest.substr(0, sp));
        if (sp == std::string_view::npos) break;
        rest.remove_prefix(sp + 1);
    }
    size_t want = id.version == 0 ? 2 : 3;
    if (fields.size() != want || std::any_of(fields.begin(), fields.end(), [](auto f) { return f.empty(); }))
        return bad(fmt::format("expected {} fields after the hash", want));
    id.hostnqn = fields[0];
    id.subnqn = fields[1];
    if (id.version == 1) id.digest = fields[2];
    return id;
}

std::string format_psk_identity(const PskIdentity& id) {
    std::string s = fmt::format("NVMe{}R{} {} {}", id.version, hash_field(id.hash), id.hostnqn, id.subnqn);
    if (id.version == 1) s += " " + id.digest;
    return s;
}

Result<std::string> psk_digest(PskHash hash, std::span<const uint8_t> retained, std::string_view hostnqn,
                               std::string_view subnqn) {
    const std::string_view parts[] = {hostnqn, " ", subnqn, " ", kHmacSeed};
    auto mac = hmac(hash, retained, parts);
    if (!mac) return nvmfd::unexpected(mac.error());
    std::string b64(4 * ((mac->size() + 2) / 3) + 1, '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()), mac->data(), int(mac->size()));
    b64.resize(size_t(n));
    return b64;
}

Result<PskIdentity> make_psk_identity(int version, PskHash hash, std::span<const uint8_t> retained,
                                      std::string_view hostnqn, std::string_view subnqn) {
    PskIdentity id{version, hash, std::string(hostnqn), std::string(subnqn), {}};
    if (version == 1) {
        auto d = psk_digest(hash, retained, hostnqn, subnqn);
        if (!d) return nvmfd::unexpected(d.error());
        id.digest = std::move(*d);
    }
    return id;
}

Result<Secret> derive_tls_psk(const PskIdentity& id, std::span<const uint8_t> retained) {
    return derive_with(id, retained, false);
}

Result<Secret> derive_tls_psk_compat(const PskIdentity& id, std::span<const uint8_t> retained) {
    return derive_with(id, retained, true);
}

Result<HostTlsCredentials> host_tls_credentials(std::string_view configured_text, std::string_view hostnqn,
                                                std::string_view subnqn, int version) {
    auto configured = parse_tls_psk(configured_text);
    if (!configured) return nvmfd::unexpected(configured.error());
    auto retained = retained_psk(*configured, hostnqn);
    if (!retained) return nvmfd::unexpected(retained.error());
    PskHash hash = configured->key.size() == 48 ? PskHash::Sha384 : PskHash::Sha256;
    auto id = make_psk_identity(version, hash, retained->bytes(), hostnqn, subnqn);
    if (!id) return nvmfd::unexpected(id.error());
    auto psk = derive_tls_psk(*id, retained->bytes());
    if (!psk) return nvmfd::unexpected(psk.error());
    return HostTlsCredentials{format_psk_identity(*id), std::move(*psk)};
}

Result<Secret> tls_psk_for_identity(const PskIdentity& id, std::string_view configured_text) {
    auto configured = parse_tls_psk(configured_text);
    if (!configured) return nvmfd::unexpected(configured.error());
    auto retained = retained_psk(*configured, id.hostnqn);
    if (!retained) return nvmfd::unexpected(retained.error());
    return derive_tls_psk(id, retained->bytes());
}

std::string_view derivation_name(PskDerivation d) {
    switch (d) {
    case PskDerivation::Rfc8446: return "RFC 8446 HkdfLabel";
    case PskDerivation::LibnvmeCompat: return "libnvme's non-RFC HkdfLabel (nvme-cli 2.4-2.10, or --compat)";
    case PskDerivation::LibnvmeOld: return "libnvme's non-RFC HkdfLabel with the whole identity as context (nvme-cli 2.4-2.10)";
    }
    return "?";
}

Result<std::vector<TlsPskCandidate>> tls_psk_candidates(const PskIdentity& id, std::string_view configured_text) {
    auto configured = parse_tls_psk(configured_text);
    if (!configured) return nvmfd::unexpected(configured.error());
    std::vector<TlsPskCandidate> out;
    auto retained = retained_psk(*configured, id.hostnqn);
    if (!retained) return nvmfd::unexpected(retained.error());
    // A version 1 digest that does not fit is PermissionDenied: maybe the
    // other retained PSK's.
    auto rfc = derive_tls_psk(id, retained->bytes());
    if (rfc) out.push_back({PskDerivation::Rfc8446, std::move(*rfc)});
    else if (rfc.error().code != ErrorCode::PermissionDenied) return nvmfd::unexpected(rfc.error());
    auto old_retained = retained_psk_compat(*configured, id.hostnqn);
    if (!old_retained) return nvmfd::unexpected(old_retained.error());
    if (auto compat = derive_tls_psk_compat(id, old_retained->bytes())) {
        out.push_back({PskDerivation::LibnvmeCompat, std::move(*compat)});
        if (id.version == 1) {
            size_t len = hash_length(id.hash);
            auto info = hkdf_label_compat(len, "nvme-tls-psk", format_psk_identity(id));
            auto old = hkdf(id.hash, old_retained->bytes(), info, len);
            if (!old) return nvmfd::unexpected(old.error());
            out.push_back({PskDerivation::LibnvmeOld, std::move(*old)});
        }
    }
    if (out.empty()) return nvmfd::unexpected(rfc.error());
    return out;
}

}  // namespace nvmfd::auth
