// What the management front ends (D-Bus, nvmfctl) need of the policy
// engine, without depending on it: the Lua engine (lua/) implements it, the
// daemon wires it in. Policies persist through Control (put_policy).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/runtime/error.hpp"

namespace nvmfd::control {

struct PolicyInfo {
    std::string name;
    std::string file;
    std::map<std::string, std::string> params;
    std::vector<std::string> handlers;
    uint64_t calls = 0;
    uint64_t errors = 0;
    std::string last_error;
    size_t memory_bytes = 0;
};

class PolicyService {
public:
    virtual ~PolicyService() = default;
    // Compile, persist (Control::put_policy) and start (on_start) a policy, replacing one of the same name; a syntax or load-time error is refused (ErrorCode::InvalidArgument, message "FILE:LINE: ...", field "source") and nothing changes.
    virtual Result<void> load(const std::string& name, const std::string& source, const std::string& file,
                              const std::map<std::string, std::string>& params) = 0;
    virtual Result<void> unload(const std::string& name) = 0;  // NotFound when absent
    virtual std::vector<PolicyInfo> list() const = 0;
    virtual Result<PolicyInfo> show(const std::string& name) const = 0;
};

}  // namespace nvmfd::control
