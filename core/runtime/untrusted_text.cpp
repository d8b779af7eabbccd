#include "core/runtime/untrusted_text.hpp"

#include <fmt/format.h>

namespace nvmfd::runtime {
namespace {

// Length of the printable UTF-8 character at text[pos], or 0 if the bytes
// there are a control character, malformed, overlong or a surrogate.
size_t printable_char_length(std::string_view text, size_t pos) {
    auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
    unsigned char b = byte(pos);
    if (b < 0x80) return (b >= 0x20 && b != 0x7f) ? 1 : 0;
    size_t len;
    char32_t cp;
    if ((b & 0xe0) == 0xc0) {
        len = 2;
        cp = b & 0x1f;
    } else if ((b & 0xf0) == 0xe0) {
        len = 3;
        cp = b & 0x0f;
    } else if ((b & 0xf8) == 0xf0) {
        len = 4;
        cp = b & 0x07;
    } else {
        return 0;
    }
    if (pos + len > text.size()) return 0;
    for (size_t i = 1; i < len; ++i) {
        if ((byte(pos + i) & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (byte(pos + i) & 0x3f);
    }
    static constexpr char32_t kSmallest[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kSmallest[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    if (cp >= 0x80 && cp <= 0x9f) return 0;  // C1 controls (0x9b is a terminal's CSI)
    return len;
}

}  // namespace

bool is_printable_utf8(std::string_view text) {
    for (size_t pos = 0; pos < text.size();) {
        size_t n = printable_char_length(text, pos);
        if (n == 0) return false;
        pos += n;
    }
    return true;
}

std::string escape_untrusted(std::string_view text) {
    std::string out;
    out.reserve(text.size());
    for (size_t pos = 0; pos < text.size();) {
        size_t n = printable_char_length(text, pos);
        if (n > 0) {
            out.append(text.substr(pos, n));
            pos += n;
            continue;
        }
        switch (char c = text[pos]) {
        case '\n': out += "\\n"; break;
        case '\r': out += "\\r"; break;
        case '\t': out += "\\t"; break;
        default: out += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
        }
        ++pos;
    }
    return out;
}

}  // namespace nvmfd::runtime
