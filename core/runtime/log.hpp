// Logging: one formatted line per call, written with a single write(2) so
// lines from different threads never interleave. Under systemd the level is
// sent as a syslog priority prefix that journald understands.
#pragma once

#include <fmt/format.h>
#include <optional>
#include <string_view>

namespace nvmfd::log {

enum class Level { Error = 3, Warning = 4, Notice = 5, Info = 6, Debug = 7, Trace = 8 };

void set_level(Level level);
Level level();
bool enabled(Level level);
std::optional<Level> parse_level(std::string_view name);
void write(Level level, std::string_view message);

// While one lives, lines logged on this thread are demoted to debug and
// prefixed: a dry run (`nvmfctl policy test`) goes through the same code as
// real changes, but its "subsystem added" must not read like one in the log.
class DemoteScope {
public:
    explicit DemoteScope(const char* prefix);
    ~DemoteScope();
    DemoteScope(const DemoteScope&) = delete;
    DemoteScope& operator=(const DemoteScope&) = delete;

private:
    const char* previous_;
};

template <typename... Args>
void emit(Level lvl, fmt::format_string<Args...> f, Args&&... args) {
    if (enabled(lvl)) write(lvl, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void error(fmt::format_string<Args...> f, Args&&... args) { emit(Level::Error, f, std::forward<Args>(args)...); }
template <typename... Args>
void warn(fmt::format_string<Args...> f, Args&&... args) { emit(Level::Warning, f, std::forward<Args>(args)...); }
template <typename... Args>
void notice(fmt::format_string<Args...> f, Args&&... args) { emit(Level::Notice, f, std::forward<Args>(args)...); }
template <typename... Args>
void info(fmt::format_string<Args...> f, Args&&... args) { emit(Level::Info, f, std::forward<Args>(args)...); }
template <typename... Args>
void debug(fmt::format_string<Args...> f, Args&&... args) { emit(Level::Debug, f, std::forward<Args>(args)...); }
template <typename... Args>
void trace(fmt::format_string<Args...> f, Args&&... args) { emit(Level::Trace, f, std::forward<Args>(args)...); }

}  // namespace nvmfd::log
