#include "core/auth/dhchap_secret.hpp"

#include "core/auth/key_text.hpp"

namespace nvmfd::auth {

Result<DhchapSecret> DhchapSecret::parse(std::string_view text, std::string_view field) {
    auto decoded = decode_key_text(text, "DHHC-1", field);
    if (!decoded) return nvmfd::unexpected(decoded.error());
    return DhchapSecret{decoded->hash, std::move(decoded->key)};
}

Bytes DhchapSecret::transformed(std::string_view nqn) const {
    if (transform == 0) return key;
    return Hmac(transform, key).update(nqn).update("NVMe-over-Fabrics").final();
}

}  // namespace nvmfd::auth
