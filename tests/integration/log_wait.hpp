// Waiting on a daemon under test: until a condition holds, or for a line of
// its log.
#pragma once

#include <chrono>
#include <sstream>
#include <string>
#include <thread>

#include "tests/integration/nvmfd_process.hpp"

namespace nvmfd::testing {

// Polls pred until it holds or `timeout` passes; its last answer.
template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        if (pred()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return pred();
}

// The first line of the daemon's log at `level` ("notice", "warn", ...)
// that contains `needle`, or "" if none does.
inline std::string log_line_with(const NvmfdProcess& d, const std::string& level, const std::string& needle) {
    std::istringstream in(d.log());
    for (std::string line; std::getline(in, line);)
        if (line.find(" " + level + " ") != std::string::npos && line.find(needle) != std::string::npos) return line;
    return "";
}

// How many times `what` occurs in `text` (e.g. a message in a daemon's log).
inline size_t count_of(const std::string& text, const std::string& what) {
    size_t n = 0;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
    return n;
}

// Waits (up to `timeout`) for a line of the daemon's log containing `text`.
inline bool log_shows(const NvmfdProcess& d, const std::string& text,
                      std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    return eventually([&] { return d.log().find(text) != std::string::npos; }, timeout);
}

}  // namespace nvmfd::testing
