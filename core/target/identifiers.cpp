#include "core/target/identifiers.hpp"

#include <fmt/format.h>
#include <openssl/rand.h>
#include <stdexcept>

namespace nvmfd::target {
namespace {

std::array<uint8_t, 16> random16() {
    std::array<uint8_t, 16> v{};
    if (RAND_bytes(v.data(), static_cast<int>(v.size())) != 1) throw std::runtime_error("no random bytes available");
    return v;
}

int hexval(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

Uuid generate_uuid() {
    Uuid u = random16();
    u[6] = static_cast<uint8_t>((u[6] & 0x0f) | 0x40);  // version 4
    u[8] = static_cast<uint8_t>((u[8] & 0x3f) | 0x80);  // RFC 4122 variant
    return u;
}

Nguid generate_nguid() { return random16(); }

std::string format_uuid(const Uuid& u) {
    std::string h = format_hex(u);
    return fmt::format("{}-{}-{}-{}-{}", h.substr(0, 8), h.substr(8, 4), h.substr(12, 4), h.substr(16, 4),
                       h.substr(20));
}

std::string format_hex(const std::array<uint8_t, 16>& v) {
    std::string s;
    for (uint8_t b : v) s += fmt::format("{:02x}", b);
    return s;
}

std::optional<std::array<uint8_t, 16>> parse_hex16(std::string_view s) {
    std::array<uint8_t, 16> v{};
    size_t n = 0;
    int hi = -1;
    for (char c : s) {
        if (c == '-') continue;
        int x = hexval(c);
        if (x < 0 || n >= 16) return std::nullopt;
        if (hi < 0) {
            hi = x;
        } else {
            v[n++] = static_cast<uint8_t>(hi << 4 | x);
            hi = -1;
        }
    }
    if (n != 16 || hi >= 0) return std::nullopt;
    return v;
}

std::optional<Uuid> parse_uuid(std::string_view s) {
    if (s.size() != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-') return std::nullopt;
    return parse_hex16(s);
}

}  // namespace nvmfd::target
