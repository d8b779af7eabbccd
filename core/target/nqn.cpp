#include "core/target/nqn.hpp"

#include <cctype>
#include <cstring>
#include <fmt/format.h>

#include "core/runtime/untrusted_text.hpp"

namespace nvmfd::target {
namespace {

bool all_digits(std::string_view s) {
    for (char c : s)
        if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    return !s.empty();
}

bool is_uuid(std::string_view s) {
    if (s.size() != 36) return false;
    for (size_t i = 0; i < s.size(); ++i) {
        bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
    }
    return true;
}

}  // namespace

std::optional<std::string> nqn_problem(std::string_view nqn) {
    if (nqn.empty()) return "the NQN is empty";
    if (nqn.size() > kMaxNqnLength)
        return fmt::format("the NQN is {} bytes long; at most {} are allowed", nqn.size(), kMaxNqnLength);
    if (!runtime::is_printable_utf8(nqn)) return "the NQN contains a control character or is not valid UTF-8";
    constexpr std::string_view kUuidPrefix = "nqn.2014-08.org.nvmexpress:uuid:";
    if (nqn.starts_with(kUuidPrefix)) {
        if (!is_uuid(nqn.substr(kUuidPrefix.size())))
            return "a UUID-based NQN must end in a UUID like 01234567-89ab-cdef-0123-456789abcdef";
        return std::nullopt;
    }
    if (!nqn.starts_with("nqn.")) return "an NQN starts with 'nqn.' (e.g. nqn.2026-11.com.example:disk1)";
    std::string_view rest = nqn.substr(4);
    // yyyy-mm.
    if (rest.size() < 8 || !all_digits(rest.substr(0, 4)) || rest[4] != '-' || !all_digits(rest.substr(5, 2)) ||
        rest[7] != '.')
        return "an NQN needs a date after 'nqn.' in the form yyyy-mm followed by '.' (e.g. nqn.2026-11.com.example)";
    int month = (rest[5] - '0') * 10 + (rest[6] - '0');
    if (month < 1 || month > 12) return "the month in the NQN's date must be 01 to 12";
    rest = rest.substr(8);
    std::string_view domain = rest.substr(0, rest.find(':'));
    if (domain.empty()) return "an NQN needs a reverse domain name after the date (e.g. com.example)";
    size_t label_len = 0;
    for (char c : domain) {
        if (c == '.') {
            if (label_len == 0) return "the NQN's domain has an empty label";
            label_len = 0;
        } else if (std::isalnum(static_cast<unsigned char>(c)) || c == '-') {
            ++label_len;
        } else {
            return fmt::format("the NQN's domain contains '{}'; only letters, digits, '-' and '.' are allowed", c);
        }
    }
    if (label_len == 0) return "the NQN's domain ends with '.'";
    if (rest.size() > domain.size() && rest.size() == domain.size() + 1)
        return "the NQN ends with ':' but has nothing after it";
    return std::nullopt;
}

std::optional<std::string> wire_nqn_problem(std::string_view nqn) {
    if (nqn.size() > kMaxNqnLength)
        return fmt::format("it is {} bytes long; at most {} are allowed", nqn.size(), kMaxNqnLength);
    if (!runtime::is_printable_utf8(nqn)) return "it contains a control character or is not valid UTF-8";
    return std::nullopt;
}

std::string field_to_string(const char* field, size_t size) {
    size_t n = strnlen(field, size);
    return std::string(field, n);
}

void string_to_field(std::string_view s, char* field, size_t size, char pad) {
    size_t n = std::min(s.size(), size);
    if (n) std::memcpy(field, s.data(), n);
    std::memset(field + n, pad, size - n);
}

}  // namespace nvmfd::target
