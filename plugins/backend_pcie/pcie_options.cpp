#include "plugins/backend_pcie/pcie_options.hpp"

#include <algorithm>
#include <cctype>
#include <fmt/format.h>

namespace nvmfd::plugins::pcie {
namespace {

constexpr const char* kKnownKeys = "device, nsid, queue_depth, io_timeout_ms, interrupts, sgl";

// `n` hex digits at the front of `s`, no more than `max`.
bool hex_field(std::string_view& s, size_t n, unsigned max, unsigned& out) {
    if (s.size() < n) return false;
    unsigned v = 0;
    for (size_t i = 0; i < n; ++i) {
        const char c = char(std::tolower(static_cast<unsigned char>(s[i])));
        if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
        v = v * 16 + unsigned(std::isdigit(static_cast<unsigned char>(c)) ? c - '0' : c - 'a' + 10);
    }
    if (v > max) return false;
    out = v;
    s.remove_prefix(n);
    return true;
}

bool take(std::string_view& s, char c) {
    if (s.empty() || s.front() != c) return false;
    s.remove_prefix(1);
    return true;
}

Result<AutoOnOff> parse_auto_on_off(std::string_view value, std::string_view key) {
    if (value == "auto") return AutoOnOff::Auto;
    if (value == "on") return AutoOnOff::On;
    if (value == "off") return AutoOnOff::Off;
    return make_error(ErrorCode::InvalidArgument, fmt::format("'{}' is not auto, on or off", value), std::string(key));
}

}  // namespace

const char* auto_on_off_name(AutoOnOff v) {
    return v == AutoOnOff::On ? "on" : v == AutoOnOff::Off ? "off" : "auto";
}

Result<std::string> normalize_pci_address(std::string_view text, std::string_view field) {
    std::string_view s = text;
    unsigned domain = 0, bus = 0, dev = 0, fn = 0;
    // DDDD:BB:DD.F, or BB:DD.F in domain 0.
    const bool with_domain = std::count(text.begin(), text.end(), ':') == 2;
    const bool ok = (!with_domain || (hex_field(s, 4, 0xffff, domain) && take(s, ':'))) && hex_field(s, 2, 0xff, bus) &&
                    take(s, ':') && hex_field(s, 2, 0x1f, dev) && take(s, '.') && hex_field(s, 1, 7, fn) && s.empty();
    if (!ok)
        return make_error(ErrorCode::InvalidArgument,
                          fmt::format("'{}' is not a PCI address (DDDD:BB:DD.F, e.g. 0000:3b:00.0, as lspci -D shows it)",
                                      text),
                          std::string(field));
    return fmt::format("{:04x}:{:02x}:{:02x}.{:x}", domain, bus, dev, fn);
}

Result<PcieOptions> parse_pcie_options(const plugin::Params& params) {
    PcieOptions o;
    for (const auto& [key, value] : params) {
        if (key == "device") {
            auto a = normalize_pci_address(value, key);
            if (!a) return nvmfd::unexpected(a.error());
            o.device = *a;
        } else if (key == "nsid") {
            auto v = plugin::parse_uint(value, key);
            if (!v) return nvmfd::unexpected(v.error());
            if (*v == 0 || *v >= 0xffffffffull)
                return make_error(ErrorCode::InvalidArgument, fmt::format("must be 1 to 4294967294, not {}", value), key);
            o.nsid = uint32_t(*v);
        } else if (key == "queue_depth") {
            auto v = plugin::parse_uint(value, key);
            if (!v) return nvmfd::unexpected(v.error());
            if (*v < 2 || *v > 4096)
                return make_error(ErrorCode::InvalidArgument, fmt::format("must be 2 to 4096, not {}", value), key);
            o.queue_depth = uint16_t(*v);
        } else if (key == "io_timeout_ms") {
            auto v = plugin::parse_uint(value, key);
            if (!v) return nvmfd::unexpected(v.error());
            if (*v < 100 || *v > 600000)
                return make_error(ErrorCode::InvalidArgument, fmt::format("must be 100 to 600000, not {}", value), key);
            o.io_timeout = std::chrono::milliseconds(*v);
        } else if (key == "interrupts" || key == "sgl") {
            auto v = parse_auto_on_off(value, key);
            if (!v) return nvmfd::unexpected(v.error());
            (key == "sgl" ? o.sgl : o.interrupts) = *v;
        } else {
            return make_error(ErrorCode::InvalidArgument,
                              fmt::format("unknown pcie backend parameter (known: {})", kKnownKeys), key);
        }
    }
    if (o.device.empty())
        return make_error(ErrorCode::InvalidArgument,
                          "a pcie namespace needs the PCI address of an NVMe drive bound to vfio-pci", "device");
    return o;
}

}  // namespace nvmfd::plugins::pcie
