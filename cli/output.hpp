// Human output (aligned tables, sizes in binary units) and JSON output.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace nvmfd::cli {

class Table {
public:
    explicit Table(std::vector<std::string> headers) : headers_(std::move(headers)) {}
    void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
    bool empty() const { return rows_.empty(); }
    // Columns padded to their widest cell; the last column is not padded.
    std::string render() const;

private:
    std::vector<std::string> headers_;
    std::vector<std::vector<std::string>> rows_;
};

void print(const Table& t);
void print_json(const nlohmann::json& j);
void print_line(const std::string& s);

std::string format_size(uint64_t bytes);  // "1 GiB", "1.5 GiB", "512 B"
std::string join(const std::vector<std::string>& items, const std::string& sep = ", ");

}  // namespace nvmfd::cli
