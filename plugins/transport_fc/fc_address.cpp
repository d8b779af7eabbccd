#include "plugins/transport_fc/fc_address.hpp"

#include <cctype>
#include <fmt/format.h>

namespace nvmfd::plugins::fc {
namespace {

// "nn-0x" + 16 hex digits at `text`, prefix given.
bool parse_name(std::string_view text, std::string_view prefix, uint64_t& out) {
    if (text.size() != prefix.size() + 16 || text.substr(0, prefix.size()) != prefix) return false;
    uint64_t v = 0;
    for (char c : text.substr(prefix.size())) {
        const int d = std::isdigit(static_cast<unsigned char>(c))   ? c - '0'
                      : std::isxdigit(static_cast<unsigned char>(c)) ? std::tolower(static_cast<unsigned char>(c)) - 'a' + 10
                                                                      : -1;
        if (d < 0) return false;
        v = v << 4 | uint64_t(d);
    }
    out = v;
    return true;
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

}  // namespace

Result<FcAddress> parse_fc_address(std::string_view text, std::string_view field) {
    const std::string t = lower(text);
    const size_t colon = t.find(':');
    FcAddress a;
    if (colon == std::string::npos || !parse_name(std::string_view(t).substr(0, colon), "nn-0x", a.wwnn) ||
        !parse_name(std::string_view(t).substr(colon + 1), "pn-0x", a.wwpn))
        return make_error(ErrorCode::InvalidArgument,
                          fmt::format("'{}' is not an FC address: nn-0x<WWNN>:pn-0x<WWPN>, 16 hex digits each "
                                      "(e.g. nn-0x10001100ab000001:pn-0x20001100ab000001)",
                                      text),
                          std::string(field));
    if (a.wwnn == 0 || a.wwpn == 0)
        return make_error(ErrorCode::InvalidArgument,
                          fmt::format("'{}': a world wide name of 0 is not a port's", text), std::string(field));
    return a;
}

std::string format_fc_address(const FcAddress& a) { return fmt::format("nn-0x{:016x}:pn-0x{:016x}", a.wwnn, a.wwpn); }

}  // namespace nvmfd::plugins::fc
