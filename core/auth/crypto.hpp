// The cryptography DH-HMAC-CHAP needs, through OpenSSL 3: the hash
// functions by NVMe identifier, HMAC, random bytes and finite-field
// Diffie-Hellman over the RFC 7919 groups. Values are byte vectors; DH
// values are big endian and padded to the group's size, as on the wire.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "core/runtime/error.hpp"

namespace nvmfd::auth {

using Bytes = std::vector<uint8_t>;

// NVMe hash identifiers (1 SHA-256, 2 SHA-384, 3 SHA-512): digest length,
// OpenSSL name and the name admins use ("sha256"...). 0 for an unknown ID.
size_t hash_length(uint8_t hash_id);
const char* hash_name(uint8_t hash_id);
std::optional<uint8_t> hash_by_name(std::string_view name);

// DH group identifiers (0 null, 1..5 ffdhe2048..ffdhe8192).
size_t dh_group_bytes(uint8_t group_id);  // 0 for null or unknown
const char* dh_group_name(uint8_t group_id);
std::optional<uint8_t> dh_group_by_name(std::string_view name);

// HMAC over parts fed in order.
class Hmac {
public:
    Hmac(uint8_t hash_id, std::span<const uint8_t> key);
    ~Hmac();
    Hmac(const Hmac&) = delete;
    Hmac& operator=(const Hmac&) = delete;
    Hmac& update(std::span<const uint8_t> data);
    Hmac& update(std::string_view text);
    Bytes final();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

Bytes digest(uint8_t hash_id, std::span<const uint8_t> data);
Bytes random_bytes(size_t n);
// Constant-time comparison of equal-length values.
bool equal_secret(std::span<const uint8_t> a, std::span<const uint8_t> b);

// One side's ephemeral DH key in a named group.
class DhKey {
public:
    static Result<DhKey> generate(uint8_t group_id);
    DhKey(DhKey&&) noexcept;
    DhKey& operator=(DhKey&&) noexcept;
    ~DhKey();
    const Bytes& public_value() const { return public_; }
    // g^(xy) mod p, padded to the group size; an error for a peer value of
    // the wrong size or outside the group (OpenSSL checks 1 < y < p-1).
    Result<Bytes> shared_secret(std::span<const uint8_t> peer_public) const;

private:
    DhKey() = default;
    struct Impl;
    std::unique_ptr<Impl> impl_;
    Bytes public_;
    uint8_t group_ = 0;
};

}  // namespace nvmfd::auth
