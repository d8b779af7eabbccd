#include "core/plugin/params.hpp"

#include <charconv>

namespace nvmfd::plugin {

Result<uint64_t> parse_uint(std::string_view text, std::string_view field) {
    uint64_t v = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (text.empty() || ec != std::errc() || p != text.data() + text.size())
        return make_error(ErrorCode::InvalidArgument, fmt::format("'{}' is not a non-negative integer", text),
                          std::string(field));
    return v;
}

Result<uint64_t> parse_size(std::string_view text, std::string_view field) {
    if (text.empty()) return make_error(ErrorCode::InvalidArgument, "size is empty", std::string(field));
    uint64_t mult = 1;
    std::string_view digits = text;
    char suffix = text.back();
    if (suffix == 'B' || suffix == 'b') {
        digits.remove_suffix(1);
        if (digits.empty()) return make_error(ErrorCode::InvalidArgument, "size is empty", std::string(field));
        suffix = digits.back();
        if (suffix == 'i') {  // accept "GiB"
            digits.remove_suffix(1);
            suffix = digits.empty() ? '0' : digits.back();
        }
    }
    switch (suffix) {
    case 'k': case 'K': mult = 1ull << 10; break;
    case 'm': case 'M': mult = 1ull << 20; break;
    case 'g': case 'G': mult = 1ull << 30; break;
    case 't': case 'T': mult = 1ull << 40; break;
    default: mult = 1;
    }
    if (mult != 1) digits.remove_suffix(1);
    auto v = parse_uint(digits, field);
    if (!v) return make_error(ErrorCode::InvalidArgument, fmt::format("'{}' is not a size (e.g. 4096, 64K, 1G)", text),
                              std::string(field));
    if (*v > UINT64_MAX / mult)
        return make_error(ErrorCode::InvalidArgument, fmt::format("size '{}' is too large", text), std::string(field));
    return *v * mult;
}

Result<bool> parse_bool(std::string_view text, std::string_view field) {
    if (text == "1" || text == "true" || text == "yes" || text == "on") return true;
    if (text == "0" || text == "false" || text == "no" || text == "off") return false;
    return make_error(ErrorCode::InvalidArgument, fmt::format("'{}' is not a boolean (true/false)", text),
                      std::string(field));
}

std::optional<std::string_view> find_param(const Params& p, std::string_view key) {
    auto it = p.find(key);
    if (it == p.end()) return std::nullopt;
    return std::string_view(it->second);
}

}  // namespace nvmfd::plugin
