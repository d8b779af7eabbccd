// The text form NVMe gives its secrets: base64 of the key bytes followed by
// their CRC-32 (little endian), between a prefix and a hash indicator, as
// `DHHC-1:NN:<base64>:` (DH-HMAC-CHAP) and `NVMeTLSkey-1:HH:<base64>:`
// (TLS PSK interchange). nvme-cli writes both; this is the shared decoding.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/runtime/error.hpp"

namespace nvmfd::auth {

// The parts of `PREFIX:NN:<base64>:` with the key checked against its CRC.
struct KeyText {
    uint8_t hash = 0;  // NN: 0 none, 1 SHA-256, 2 SHA-384, 3 SHA-512
    std::vector<uint8_t> key;
};

// `field` names the option or setting the text came from, for the error.
Result<KeyText> decode_key_text(std::string_view text, std::string_view prefix, std::string_view field);
std::string encode_key_text(std::string_view prefix, uint8_t hash, const std::vector<uint8_t>& key);

}  // namespace nvmfd::auth
