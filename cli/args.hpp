// A small declarative command-line parser: each command declares its
// arguments and options once, and both parsing and --help come from that
// declaration, so the help cannot drift from what is accepted.
#pragma once

#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace nvmfd::cli {

struct OptionSpec {
    std::string name;        // without the leading "--"
    std::string value_name;  // empty: a flag without a value
    std::string help;
    bool repeatable = false;
    bool required = false;
};

struct ArgSpec {
    std::string name;  // shown in upper case in the usage line
    std::string help;
    bool optional = false;
    bool variadic = false;  // takes the rest (zero or more when optional)
};

struct CommandSpec {
    std::string group;  // "subsystem"; empty for a top-level command like "status"
    std::string name;
    std::string summary;
    std::vector<ArgSpec> args;
    std::vector<OptionSpec> options;
    std::string details;  // shown under the usage in --help
};

// Wrong use of the command line: exit code 2.
struct UsageError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

class ParsedArgs {
public:
    const std::string& arg(size_t i) const { return positional_.at(i); }
    std::optional<std::string> opt_arg(size_t i) const;
    std::vector<std::string> rest(size_t from) const;
    size_t arg_count() const { return positional_.size(); }

    bool flag(const std::string& name) const { return options_.contains(name); }
    std::optional<std::string> value(const std::string& name) const;
    std::vector<std::string> values(const std::string& name) const;
    // A repeatable KEY=VALUE option (--param, --arg); UsageError names a bad one.
    std::map<std::string, std::string> key_values(const std::string& name) const;

private:
    friend ParsedArgs parse_command(const CommandSpec&, const std::vector<std::string>&);
    std::vector<std::string> positional_;
    std::map<std::string, std::vector<std::string>> options_;
};

// Throws UsageError naming the problem.
ParsedArgs parse_command(const CommandSpec& spec, const std::vector<std::string>& argv);

std::string usage_line(const CommandSpec& spec);
std::string help_text(const CommandSpec& spec);

// Strict conversions for option values; UsageError names the option.
uint64_t parse_number(const std::string& text, const std::string& what, uint64_t max);
// "4096", "64K", "100G" (binary multiples), as the backends read sizes.
uint64_t parse_size_bytes(const std::string& text, const std::string& what);
bool parse_yes_no(const std::string& text, const std::string& what);

}  // namespace nvmfd::cli
