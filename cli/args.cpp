#include "cli/args.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

#include <fmt/format.h>

namespace nvmfd::cli {
namespace {

std::string upper(std::string s) {
    for (char& c : s) c = char(std::toupper(static_cast<unsigned char>(c)));
    return s;
}

const OptionSpec* find_option(const CommandSpec& spec, const std::string& name) {
    for (const auto& o : spec.options)
        if (o.name == name) return &o;
    return nullptr;
}

std::string command_name(const CommandSpec& spec) {
    return spec.group.empty() ? spec.name : spec.group + " " + spec.name;
}

}  // namespace

std::optional<std::string> ParsedArgs::opt_arg(size_t i) const {
    if (i < positional_.size()) return positional_[i];
    return std::nullopt;
}

std::vector<std::string> ParsedArgs::rest(size_t from) const {
    if (from >= positional_.size()) return {};
    return {positional_.begin() + long(from), positional_.end()};
}

std::optional<std::string> ParsedArgs::value(const std::string& name) const {
    auto it = options_.find(name);
    if (it == options_.end() || it->second.empty()) return std::nullopt;
    return it->second.back();
}

std::vector<std::string> ParsedArgs::values(const std::string& name) const {
    auto it = options_.find(name);
    return it == options_.end() ? std::vector<std::string>{} : it->second;
}

std::map<std::string, std::string> ParsedArgs::key_values(const std::string& name) const {
    std::map<std::string, std::string> out;
    for (const auto& kv : values(name)) {
        size_t eq = kv.find('=');
        if (eq == std::string::npos || eq == 0)
            throw UsageError("--" + name + " takes KEY=VALUE, not '" + kv + "'");
        out[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    return out;
}

ParsedArgs parse_command(const CommandSpec& spec, const std::vector<std::string>& argv) {
    ParsedArgs out;
    bool options_done = false;
    for (size_t i = 0; i < argv.size(); ++i) {
        const std::string& a = argv[i];
        if (!options_done && a == "--") {
            options_done = true;
            continue;
        }
        if (!options_done && a.size() > 2 && a.starts_with("--")) {
            std::string name = a.substr(2);
            std::optional<std::string> inline_value;
            if (auto eq = name.find('='); eq != std::string::npos) {
                inline_value = name.substr(eq + 1);
                name = name.substr(0, eq);
            }
            const OptionSpec* o = find_option(spec, name);
            if (!o) throw UsageError(fmt::format("'{}' has no option --{}", command_name(spec), name));
            if (o->value_name.empty()) {
                if (inline_value) throw UsageError(fmt::format("--{} takes no value", name));
                out.options_[name];
                continue;
            }
            std::string v;
            if (inline_value) v = *inline_value;
            else if (i + 1 < argv.size()) v = argv[++i];
            else throw UsageError(fmt::format("--{} needs a value ({})", name, o->value_name));
            auto& slot = out.options_[name];
            if (!slot.empty() && !o->repeatable) throw UsageError(fmt::format("--{} given twice", name));
            slot.push_back(v);
            continue;
        }
        if (!options_done && a.size() > 1 && a[0] == '-' && !std::isdigit(static_cast<unsigned char>(a[1])))
            throw UsageError(fmt::format("unknown option '{}' (options are spelled --name)", a));
        out.positional_.push_back(a);
    }
    for (const auto& o : spec.options)
        if (o.required && !out.options_.contains(o.name))
            throw UsageError(fmt::format("missing --{} {} ({})", o.name, o.value_name, o.help));
    size_t required = 0;
    bool variadic = false;
    for (const auto& a : spec.args) {
        if (!a.optional) ++required;
        variadic = variadic || a.variadic;
    }
    if (out.positional_.size() < required) {
        const auto& missing = spec.args[out.positional_.size()];
        throw UsageError(fmt::format("missing {} ({})", upper(missing.name), missing.help));
    }
    if (!variadic && out.positional_.size() > spec.args.size())
        throw UsageError(fmt::format("unexpected argument '{}'", out.positional_[spec.args.size()]));
    return out;
}

std::string usage_line(const CommandSpec& spec) {
    std::string s = "nvmfctl " + command_name(spec);
    for (const auto& o : spec.options)
        if (o.required) s += fmt::format(" --{} {}", o.name, o.value_name);
    bool any_optional =
        std::any_of(spec.options.begin(), spec.options.end(), [](const OptionSpec& o) { return !o.required; });
    if (any_optional) s += " [OPTIONS]";
    for (const auto& a : spec.args) {
        std::string n = upper(a.name) + (a.variadic ? "..." : "");
        s += a.optional ? " [" + n + "]" : " " + n;
    }
    return s;
}

std::string help_text(const CommandSpec& spec) {
    std::string s = fmt::format("Usage: {}\n\n{}\n", usage_line(spec), spec.summary);
    if (!spec.details.empty()) s += "\n" + spec.details + "\n";
    if (!spec.args.empty()) {
        s += "\nArguments:\n";
        for (const auto& a : spec.args) s += fmt::format("  {:<24} {}\n", upper(a.name), a.help);
    }
    s += "\nOptions:\n";
    for (const auto& o : spec.options) {
        std::string left = "--" + o.name + (o.value_name.empty() ? "" : " " + o.value_name);
        s += fmt::format("  {:<24} {}{}{}\n", left, o.help, o.repeatable ? " (repeatable)" : "",
                         o.required ? " (required)" : "");
    }
    s += fmt::format("  {:<24} {}\n", "--json", "print JSON instead of tables");
    s += fmt::format("  {:<24} {}\n", "--bus system|session", "the bus nvmfd serves on (default: system)");
    s += fmt::format("  {:<24} {}\n", "-h, --help", "show this help");
    return s;
}

uint64_t parse_number(const std::string& text, const std::string& what, uint64_t max) {
    uint64_t v = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || p != text.data() + text.size() || text.empty() || v > max)
        throw UsageError(fmt::format("{} must be a number from 0 to {}, not '{}'", what, max, text));
    return v;
}

uint64_t parse_size_bytes(const std::string& text, const std::string& what) {
    uint64_t v = 0;
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || p == text.data())
        throw UsageError(fmt::format("{} must be a size such as 4096, 512K, 100G; not '{}'", what, text));
    std::string suffix(p, text.data() + text.size());
    if (!suffix.empty() && (suffix.back() == 'B' || suffix.back() == 'b') && suffix.size() > 1) suffix.pop_back();
    if (suffix.size() > 1 && (suffix.back() == 'i')) suffix.pop_back();  // "GiB"
    int shift = 0;
    if (suffix.empty()) shift = 0;
    else if (suffix == "K" || suffix == "k") shift = 10;
    else if (suffix == "M" || suffix == "m") shift = 20;
    else if (suffix == "G" || suffix == "g") shift = 30;
    else if (suffix == "T" || suffix == "t") shift = 40;
    else throw UsageError(fmt::format("{}: unknown unit in '{}' (use K, M, G or T)", what, text));
    if (shift && v > (UINT64_MAX >> shift)) throw UsageError(fmt::format("{}: '{}' is too large", what, text));
    return v << shift;
}

bool parse_yes_no(const std::string& text, const std::string& what) {
    if (text == "yes" || text == "true" || text == "on" || text == "1") return true;
    if (text == "no" || text == "false" || text == "off" || text == "0") return false;
    throw UsageError(fmt::format("{} must be yes or no, not '{}'", what, text));
}

}  // namespace nvmfd::cli
