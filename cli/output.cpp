#include "cli/output.hpp"

#include <algorithm>
#include <iostream>

#include <fmt/format.h>

namespace nvmfd::cli {

std::string Table::render() const {
    std::vector<size_t> width(headers_.size(), 0);
    auto measure = [&](const std::vector<std::string>& row) {
        for (size_t i = 0; i < row.size() && i < width.size(); ++i) width[i] = std::max(width[i], row[i].size());
    };
    measure(headers_);
    for (const auto& r : rows_) measure(r);
    std::string out;
    auto line = [&](const std::vector<std::string>& row) {
        std::string l;
        for (size_t i = 0; i < width.size(); ++i) {
            const std::string cell = i < row.size() ? row[i] : "";
            l += i + 1 == width.size() ? cell : fmt::format("{:<{}}  ", cell, width[i]);
        }
        while (!l.empty() && l.back() == ' ') l.pop_back();
        out += l + "\n";
    };
    line(headers_);
    for (const auto& r : rows_) line(r);
    return out;
}

void print(const Table& t) { std::cout << t.render(); }

void print_json(const nlohmann::json& j) { std::cout << j.dump(2) << "\n"; }

void print_line(const std::string& s) { std::cout << s << "\n"; }

std::string format_size(uint64_t bytes) {
    static const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    int u = 0;
    double v = double(bytes);
    while (v >= 1024 && u < 5) {
        v /= 1024;
        ++u;
    }
    if (u == 0) return fmt::format("{} B", bytes);
    if (v == double(uint64_t(v))) return fmt::format("{} {}", uint64_t(v), units[u]);
    return fmt::format("{:.1f} {}", v, units[u]);
}

std::string join(const std::vector<std::string>& items, const std::string& sep) {
    std::string s;
    for (const auto& i : items) s += (s.empty() ? "" : sep) + i;
    return s;
}

}  // namespace nvmfd::cli
