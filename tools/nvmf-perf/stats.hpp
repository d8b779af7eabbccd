// What a run counts: per operation type a latency histogram, I/Os and bytes
// within the measured window; errors and verify results over the whole run.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tools/nvmf-perf/histogram.hpp"

namespace nvmfd::perf {

struct OpStats {
    LatencyHistogram latency;  // nanoseconds
    uint64_t ios = 0;
    uint64_t bytes = 0;

    void merge(const OpStats& other) {
        latency.merge(other.latency);
        ios += other.ios;
        bytes += other.bytes;
    }
};

struct RunStats {
    static constexpr size_t kMaxMessages = 10;

    OpStats read;
    OpStats write;
    uint64_t errors = 0;           // commands completed with an NVMe error status
    uint64_t mismatches = 0;       // verify: I/Os whose data did not match
    uint64_t verified_blocks = 0;  // verify: logical blocks checked
    std::vector<std::string> messages;  // the first errors and mismatches, for the report

    void note(std::string message) {
        if (messages.size() < kMaxMessages) messages.push_back(std::move(message));
    }
    void merge(const RunStats& other) {
        read.merge(other.read);
        write.merge(other.write);
        errors += other.errors;
        mismatches += other.mismatches;
        verified_blocks += other.verified_blocks;
        for (const std::string& m : other.messages) note(m);
    }
    OpStats total() const {
        OpStats t = read;
        t.merge(write);
        return t;
    }
};

}  // namespace nvmfd::perf
