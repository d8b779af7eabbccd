#include "core/auth/crypto.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/dh.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <array>
#include <stdexcept>

namespace nvmfd::auth {

namespace {

struct HashInfo {
    uint8_t id;
    const char* name;      // what admins write
    const char* ossl;      // OpenSSL's digest name
    size_t length;
};
constexpr std::array<HashInfo, 3> kHashes{{{1, "sha256", "SHA256", 32}, {2, "sha384", "SHA384", 48},
                                           {3, "sha512", "SHA512", 64}}};

struct GroupInfo {
    uint8_t id;
    const char* name;  // also OpenSSL's group name
    size_t bytes;
};
constexpr std::array<GroupInfo, 6> kGroups{{{0, "null", 0},
                                            {1, "ffdhe2048", 256},
                                            {2, "ffdhe3072", 384},
                                            {3, "ffdhe4096", 512},
                                            {4, "ffdhe6144", 768},
                                            {5, "ffdhe8192", 1024}}};

const HashInfo* find_hash(uint8_t id) {
    for (auto& h : kHashes)
        if (h.id == id) return &h;
    return nullptr;
}
const GroupInfo* find_group(uint8_t id) {
    for (auto& g : kGroups)
        if (g.id == id) return &g;
    return nullptr;
}

// OpenSSL failures here mean a broken library or no memory, not bad input.
[[noreturn]] void openssl_failed(const char* what) { throw std::runtime_error(fmt::format("OpenSSL: {} failed", what)); }

struct PkeyFree {
    void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct PkeyCtxFree {
    void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;

}  // namespace

size_t hash_length(uint8_t id) {
    auto* h = find_hash(id);
    return h ? h->length : 0;
}
const char* hash_name(uint8_t id) {
    auto* h = find_hash(id);
    return h ? h->name : "unknown";
}
std::optional<uint8_t> hash_by_name(std::string_view name) {
    for (auto& h : kHashes)
        if (name == h.name) return h.id;
    return std::nullopt;
}
size_t dh_group_bytes(uint8_t id) {
    auto* g = find_group(id);
    return g ? g->bytes : 0;
}
const char* dh_group_name(uint8_t id) {
    auto* g = find_group(id);
    return g ? g->name : "unknown";
}
std::optional<uint8_t> dh_group_by_name(std::string_view name) {
    for (auto& g : kGroups)
        if (name == g.name) return g.id;
    return std::nullopt;
}

struct Hmac::Impl {
    EVP_MAC* mac = nullptr;
    EVP_MAC_CTX* ctx = nullptr;
    ~Impl() {
        EVP_MAC_CTX_free(ctx);
        EVP_MAC_free(mac);
    }
};

Hmac::Hmac(uint8_t hash_id, std::span<const uint8_t> key) : impl_(std::make_unique<Impl>()) {
    auto* h = find_hash(hash_id);
    if (!h) throw std::invalid_argument("unknown hash identifier");
    impl_->mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    if (!impl_->mac || !(impl_->ctx = EVP_MAC_CTX_new(impl_->mac))) openssl_failed("HMAC");
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>(h->ossl), 0),
                           OSSL_PARAM_construct_end()};
    if (!EVP_MAC_init(impl_->ctx, key.data(), key.size(), params)) openssl_failed("HMAC init");
}
Hmac::~Hmac() = default;

Hmac& Hmac::update(std::span<const uint8_t> data) {
    if (!EVP_MAC_update(impl_->ctx, data.data(), data.size())) openssl_failed("HMAC update");
    return *this;
}
Hmac& Hmac::update(std::string_view text) {
    return update(std::span(reinterpret_cast<const uint8_t*>(text.data()), text.size()));
}
Bytes Hmac::final() {
    Bytes out(EVP_MAX_MD_SIZE);
    size_t n = 0;
    if (!EVP_MAC_final(impl_->ctx, out.data(), &n, out.size())) openssl_failed("HMAC final");
    out.resize(n);
    return out;
}

Bytes digest(uint8_t hash_id, std::span<const uint8_t> data) {
    auto* h = find_hash(hash_id);
    if (!h) throw std::invalid_argument("unknown hash identifier");
    Bytes out(EVP_MAX_MD_SIZE);
    unsigned n = 0;
    EVP_MD* md = EVP_MD_fetch(nullptr, h->ossl, nullptr);
    bool ok = md && EVP_Digest(data.data(), data.size(), out.data(), &n, md, nullptr);
    EVP_MD_free(md);
    if (!ok) openssl_failed("digest");
    out.resize(n);
    return out;
}

Bytes random_bytes(size_t n) {
    Bytes out(n);
    if (RAND_bytes(out.data(), int(n)) != 1) openssl_failed("RAND_bytes");
    return out;
}

bool equal_secret(std::span<const uint8_t> a, std::span<const uint8_t> b) {
    return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

struct DhKey::Impl {
    PkeyPtr key;
};

DhKey::DhKey(DhKey&&) noexcept = default;
DhKey& DhKey::operator=(DhKey&&) noexcept = default;
DhKey::~DhKey() = default;

Result<DhKey> DhKey::generate(uint8_t group_id) {
    auto* g = find_group(group_id);
    if (!g || g->bytes == 0)
        return make_error(ErrorCode::InvalidArgument, fmt::format("no Diffie-Hellman group {}", group_id));
    PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "DH", nullptr));
    if (!ctx || EVP_PKEY_keygen_init(ctx.get()) <= 0) openssl_failed("DH keygen init");
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, const_cast<char*>(g->name), 0),
        OSSL_PARAM_construct_end()};
    EVP_PKEY* raw = nullptr;
    if (EVP_PKEY_CTX_set_params(ctx.get(), params) <= 0 || EVP_PKEY_generate(ctx.get(), &raw) <= 0)
        openssl_failed("DH keygen");
    DhKey k;
    k.impl_ = std::make_unique<Impl>();
    k.impl_->key.reset(raw);
    k.group_ = group_id;
    // OpenSSL pads the encoded DH public key to the size of p.
    unsigned char* pub = nullptr;
    size_t n = EVP_PKEY_get1_encoded_public_key(raw, &pub);
    if (n == 0) openssl_failed("DH public key");
    k.public_.assign(pub, pub + n);
    OPENSSL_free(pub);
    if (k.public_.size() != g->bytes) openssl_failed("DH public key size");
    return k;
}

Result<Bytes> DhKey::shared_secret(std::span<const uint8_t> peer_public) const {
    size_t bytes = dh_group_bytes(group_);
    if (peer_public.size() != bytes)
        return make_error(ErrorCode::InvalidArgument,
                          fmt::format("the DH value is {} bytes; {} takes {}", peer_public.size(),
                                      dh_group_name(group_), bytes));
    PkeyPtr peer(EVP_PKEY_new());
    if (!peer || EVP_PKEY_copy_parameters(peer.get(), impl_->key.get()) <= 0) openssl_failed("DH peer");
    if (EVP_PKEY_set1_encoded_public_key(peer.get(), peer_public.data(), peer_public.size()) <= 0)
        return make_error(ErrorCode::InvalidArgument, "the DH value is not a valid public key of the group");
    PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, impl_->key.get(), nullptr));
    if (!ctx || EVP_PKEY_derive_init(ctx.get()) <= 0) openssl_failed("DH derive init");
    // The shared secret keeps its leading zero bytes (as the Linux kernel's
    // DH does): both sides hash exactly group-size bytes.
    if (EVP_PKEY_CTX_set_dh_pad(ctx.get(), 1) <= 0) openssl_failed("DH padding");
    if (EVP_PKEY_derive_set_peer_ex(ctx.get(), peer.get(), 1) <= 0)
        return make_error(ErrorCode::InvalidArgument, "the DH value is outside the group (1 < y < p-1 fails)");
    Bytes out(bytes);
    size_t n = out.size();
    if (EVP_PKEY_derive(ctx.get(), out.data(), &n) <= 0)
        return make_error(ErrorCode::InvalidArgument, "no shared secret with this DH value");
    out.resize(n);
    return out;
}

}  // namespace nvmfd::auth
