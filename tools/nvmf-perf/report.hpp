// Printing results: a human summary, JSON, and the markdown table of the
// benchmark matrix.
#pragma once

#include <cstdio>
#include <nlohmann/json.hpp>
#include <vector>

#include "tools/nvmf-perf/session.hpp"

namespace nvmfd::perf {

void print_text(const RunResult& result, std::FILE* out);
nlohmann::json to_json(const RunResult& result);
void print_markdown_table(const std::vector<RunResult>& results, std::FILE* out);

}  // namespace nvmfd::perf
