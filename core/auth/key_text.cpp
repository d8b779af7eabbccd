#include "core/auth/key_text.hpp"

#include <openssl/evp.h>

#include <isa-l/crc.h>

namespace nvmfd::auth {

namespace {

// The CRC nvme-cli and the kernel append: plain CRC-32 (zlib's), LE.
uint32_t key_crc(const uint8_t* p, size_t n) { return crc32_gzip_refl(0, p, n); }

std::string describe_prefix(std::string_view prefix) { return fmt::format("{}:NN:<base64>:", prefix); }

}  // namespace

Result<KeyText> decode_key_text(std::string_view text, std::string_view prefix, std::string_view field) {
    auto bad = [&](std::string why) {
        return make_error(ErrorCode::InvalidArgument,
                          fmt::format("{} (expected the form {}, as nvme-cli writes it)", why, describe_prefix(prefix)),
                          std::string(field));
    };
    if (!text.starts_with(prefix) || text.size() < prefix.size() + 4 || text[prefix.size()] != ':')
        return bad(fmt::format("does not start with '{}:'", prefix));
    std::string_view rest = text.substr(prefix.size() + 1);
    if (rest.size() < 3 || rest[2] != ':' || !isdigit(uint8_t(rest[0])) || !isdigit(uint8_t(rest[1])))
        return bad("the hash indicator is not two digits");
    KeyText out;
    out.hash = uint8_t((rest[0] - '0') * 10 + (rest[1] - '0'));
    if (out.hash > 3) return bad(fmt::format("unknown hash indicator {:02}", out.hash));
    std::string_view b64 = rest.substr(3);
    if (b64.ends_with(':')) b64.remove_suffix(1);
    // Lengths of whole base64 quads only; the alphabet is checked by OpenSSL.
    if (b64.empty() || b64.size() % 4 != 0 || b64.size() > 4 * ((64 + 4 + 2) / 3))
        return bad("the base64 part has the wrong length");
    std::vector<uint8_t> raw(b64.size() / 4 * 3);
    int n = EVP_DecodeBlock(raw.data(), reinterpret_cast<const unsigned char*>(b64.data()), int(b64.size()));
    if (n < 0) return bad("the base64 part is not valid base64");
    size_t pad = b64.ends_with("==") ? 2 : b64.ends_with('=') ? 1 : 0;
    raw.resize(size_t(n) - pad);
    if (raw.size() != 32 + 4 && raw.size() != 48 + 4 && raw.size() != 64 + 4)
        return bad(fmt::format("the key is {} bytes; it must be 32, 48 or 64", raw.size() < 4 ? 0 : raw.size() - 4));
    size_t len = raw.size() - 4;
    uint32_t stored = uint32_t(raw[len]) | uint32_t(raw[len + 1]) << 8 | uint32_t(raw[len + 2]) << 16 |
                      uint32_t(raw[len + 3]) << 24;
    if (stored != key_crc(raw.data(), len)) return bad("the CRC does not match the key (a typo or a truncated key)");
    raw.resize(len);
    out.key = std::move(raw);
    return out;
}

std::string encode_key_text(std::string_view prefix, uint8_t hash, const std::vector<uint8_t>& key) {
    std::vector<uint8_t> raw(key);
    uint32_t crc = key_crc(key.data(), key.size());
    for (int i = 0; i < 4; ++i) raw.push_back(uint8_t(crc >> (8 * i)));
    std::string b64(4 * ((raw.size() + 2) / 3) + 1, '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(b64.data()), raw.data(), int(raw.size()));
    b64.resize(size_t(n));
    return fmt::format("{}:{:02}:{}:", prefix, hash, b64);
}

}  // namespace nvmfd::auth
