#include "core/runtime/log.hpp"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <unistd.h>

#include "core/runtime/untrusted_text.hpp"

namespace nvmfd::log {
namespace {

std::atomic<Level> g_level{Level::Info};
thread_local const char* t_demote_prefix = nullptr;  // set by DemoteScope

// journald reads "<N>" priority prefixes on stderr; a terminal gets a timestamp instead.
bool to_journal() {
    static const bool journal = std::getenv("JOURNAL_STREAM") != nullptr;
    return journal;
}

const char* tag(Level l) {
    switch (l) {
    case Level::Error: return "error";
    case Level::Warning: return "warn";
    case Level::Notice: return "notice";
    case Level::Info: return "info";
    case Level::Debug: return "debug";
    case Level::Trace: return "trace";
    }
    return "?";
}

}  // namespace

void set_level(Level level) { g_level.store(level, std::memory_order_relaxed); }
Level level() { return g_level.load(std::memory_order_relaxed); }
bool enabled(Level l) {
    if (t_demote_prefix && l < Level::Debug) l = Level::Debug;
    return static_cast<int>(l) <= static_cast<int>(g_level.load(std::memory_order_relaxed));
}

DemoteScope::DemoteScope(const char* prefix) : previous_(t_demote_prefix) { t_demote_prefix = prefix; }
DemoteScope::~DemoteScope() { t_demote_prefix = previous_; }

std::optional<Level> parse_level(std::string_view name) {
    if (name == "error") return Level::Error;
    if (name == "warn" || name == "warning") return Level::Warning;
    if (name == "notice") return Level::Notice;
    if (name == "info") return Level::Info;
    if (name == "debug") return Level::Debug;
    if (name == "trace") return Level::Trace;
    return std::nullopt;
}

void write(Level l, std::string_view message) {
    if (t_demote_prefix && l < Level::Debug) l = Level::Debug;
    fmt::memory_buffer line;
    if (to_journal()) {
        fmt::format_to(std::back_inserter(line), "<{}>", std::min(static_cast<int>(l), 7));
    } else {
        auto now = std::chrono::system_clock::now();
        auto us = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count();
        fmt::format_to(std::back_inserter(line), "{}.{:06} {:>6} ", us / 1000000, us % 1000000, tag(l));
    }
    // Messages quote host-supplied text (NQNs, addresses): one message is
    // one line, whatever a host put in it.
    if (t_demote_prefix) line.append(std::string_view(t_demote_prefix));
    if (runtime::is_printable_utf8(message)) {
        line.append(message);
    } else {
        std::string safe = runtime::escape_untrusted(message);
        line.append(safe);
    }
    line.push_back('\n');
    // One write per line keeps concurrent lines whole; a failed log write is not worth dying for.
    [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace nvmfd::log
