#include "plugins/transport_tcp/tls_binder.hpp"

#include <memory>
#include <string>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

namespace nvmfd::plugins::tcp {
namespace {

constexpr uint16_t kPreSharedKeyExtension = 41;
constexpr uint8_t kClientHello = 1;

// A bounds-checked reader over the ClientHello.
struct Reader {
    std::span<const uint8_t> buf;
    size_t at = 0;
    bool ok = true;
    size_t number(size_t bytes) {
        if (at + bytes > buf.size()) {
            ok = false;
            return 0;
        }
        size_t v = 0;
        for (size_t i = 0; i < bytes; ++i) v = v << 8 | buf[at + i];
        at += bytes;
        return v;
    }
    std::span<const uint8_t> take(size_t n) {
        if (at + n > buf.size()) {
            ok = false;
            return {};
        }
        auto s = buf.subspan(at, n);
        at += n;
        return s;
    }
    void skip_vector(size_t len_bytes) { take(number(len_bytes)); }
};

using Md = const EVP_MD*;

std::optional<std::vector<uint8_t>> hkdf(Md md, int mode, std::span<const uint8_t> key, std::span<const uint8_t> info,
                                         size_t out_len) {
    std::unique_ptr<EVP_KDF, decltype(&EVP_KDF_free)> kdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr), EVP_KDF_free);
    std::unique_ptr<EVP_KDF_CTX, decltype(&EVP_KDF_CTX_free)> ctx(kdf ? EVP_KDF_CTX_new(kdf.get()) : nullptr,
                                                                  EVP_KDF_CTX_free);
    if (!ctx) return std::nullopt;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, const_cast<char*>(EVP_MD_get0_name(md)), 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<uint8_t*>(key.data()), key.size()),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<uint8_t*>(info.data()), info.size()),
        OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
        OSSL_PARAM_construct_end(),
    };
    std::vector<uint8_t> out(out_len);
    if (EVP_KDF_derive(ctx.get(), out.data(), out.size(), params) != 1) return std::nullopt;
    return out;
}

// RFC 8446 7.1 HKDF-Expand-Label.
std::optional<std::vector<uint8_t>> expand_label(Md md, std::span<const uint8_t> secret, std::string_view label,
                                                 std::span<const uint8_t> context, size_t len) {
    std::string full = "tls13 " + std::string(label);
    std::vector<uint8_t> info{uint8_t(len >> 8), uint8_t(len), uint8_t(full.size())};
    info.insert(info.end(), full.begin(), full.end());
    info.push_back(uint8_t(context.size()));
    info.insert(info.end(), context.begin(), context.end());
    return hkdf(md, EVP_KDF_HKDF_MODE_EXPAND_ONLY, secret, info, len);
}

std::vector<uint8_t> digest(Md md, std::span<const uint8_t> data) {
    std::vector<uint8_t> out(size_t(EVP_MD_get_size(md)));
    unsigned int n = 0;
    EVP_Digest(data.data(), data.size(), out.data(), &n, md, nullptr);
    return out;
}

}  // namespace

std::optional<ClientHelloBinder> find_psk_binder(std::span<const uint8_t> ch, std::string_view identity) {
    Reader r{ch};
    if (r.number(1) != kClientHello || r.number(3) != ch.size() - 4) return std::nullopt;
    r.take(2 + 32);     // legacy_version, random
    r.skip_vector(1);   // legacy_session_id
    r.skip_vector(2);   // cipher_suites
    r.skip_vector(1);   // legacy_compression_methods
    size_t ext_end = r.number(2);
    ext_end += r.at;
    if (!r.ok || ext_end != ch.size()) return std::nullopt;
    while (r.ok && r.at < ext_end) {
        size_t type = r.number(2), len = r.number(2);
        if (type != kPreSharedKeyExtension) {
            r.take(len);
            continue;
        }
        // pre_shared_key is the last extension: identities, then binders.
        size_t ids_end = r.number(2);
        ids_end += r.at;
        int index = -1;
        for (int i = 0; r.ok && r.at < ids_end; ++i) {
            auto id = r.take(r.number(2));
            r.number(4);  // obfuscated_ticket_age
            if (index < 0 && std::string_view(reinterpret_cast<const char*>(id.data()), id.size()) == identity)
                index = i;
        }
        if (!r.ok || r.at != ids_end || index < 0) return std::nullopt;
        ClientHelloBinder b;
        b.truncated.assign(ch.begin(), ch.begin() + std::ptrdiff_t(r.at));
        size_t binders_end = r.number(2);
        binders_end += r.at;
        for (int i = 0; r.ok && r.at < binders_end; ++i) {
            auto binder = r.take(r.number(1));
            if (i == index) b.binder.assign(binder.begin(), binder.end());
        }
        if (!r.ok || r.at != ch.size() || b.binder.empty()) return std::nullopt;
        return b;
    }
    return std::nullopt;
}

bool binder_matches(std::span<const uint8_t> psk, bool sha384, const ClientHelloBinder& b) {
    Md md = sha384 ? EVP_sha384() : EVP_sha256();
    size_t hlen = size_t(EVP_MD_get_size(md));
    // early_secret = HKDF-Extract(0, PSK); binder_key = Derive-Secret(early,
    // "ext binder", ""); finished_key = HKDF-Expand-Label(binder_key,
    // "finished", "", Hash.length); binder = HMAC(finished_key,
    // Transcript-Hash(truncated ClientHello)).
    std::vector<uint8_t> zeros(hlen, 0);
    std::unique_ptr<EVP_KDF, decltype(&EVP_KDF_free)> kdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr), EVP_KDF_free);
    std::unique_ptr<EVP_KDF_CTX, decltype(&EVP_KDF_CTX_free)> ctx(kdf ? EVP_KDF_CTX_new(kdf.get()) : nullptr,
                                                                  EVP_KDF_CTX_free);
    if (!ctx) return false;
    int mode = EVP_KDF_HKDF_MODE_EXTRACT_ONLY;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, const_cast<char*>(EVP_MD_get0_name(md)), 0),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<uint8_t*>(psk.data()), psk.size()),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, zeros.data(), zeros.size()),
        OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
        OSSL_PARAM_construct_end(),
    };
    std::vector<uint8_t> early(hlen);
    if (EVP_KDF_derive(ctx.get(), early.data(), early.size(), params) != 1) return false;
    auto binder_key = expand_label(md, early, "ext binder", digest(md, {}), hlen);
    OPENSSL_cleanse(early.data(), early.size());
    if (!binder_key) return false;
    auto finished_key = expand_label(md, *binder_key, "finished", {}, hlen);
    OPENSSL_cleanse(binder_key->data(), binder_key->size());
    if (!finished_key) return false;
    auto transcript = digest(md, b.truncated);
    std::vector<uint8_t> mac(EVP_MAX_MD_SIZE);
    size_t mac_len = 0;
    bool ok = EVP_Q_mac(nullptr, "HMAC", nullptr, EVP_MD_get0_name(md), nullptr, finished_key->data(),
                        finished_key->size(), transcript.data(), transcript.size(), mac.data(), mac.size(),
                        &mac_len) != nullptr;
    OPENSSL_cleanse(finished_key->data(), finished_key->size());
    return ok && mac_len == b.binder.size() && CRYPTO_memcmp(mac.data(), b.binder.data(), mac_len) == 0;
}

}  // namespace nvmfd::plugins::tcp
