// What a management front end (D-Bus, nvmfctl) sees of the Lua policy
// engine. The engine lives in lua/ and implements this; core/control only
// defines the shape, so that the front ends do not depend on Lua.
#pragma once

#include <cstddef>
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
    std::vector<std::string> handlers;  // the event handlers the script defines, e.g. "on_start"
    uint64_t calls = 0;                 // handler and timer calls so far
    uint64_t errors = 0;                // of which failed
    std::string last_error;             // "FILE:LINE: message" of the last failure
    size_t memory_bytes = 0;            // what its Lua state holds now
};

class PolicyService {
public:
    virtual ~PolicyService() = default;
    // Compile, persist (Control::put_policy) and start (on_start) a policy,
    // replacing one of the same name; a syntax or load-time error is refused
    // (ErrorCode::InvalidArgument, message "FILE:LINE: ...", field "source")
    // and nothing changes.
    virtual Result<void> load(const std::string& name, const std::string& source, const std::string& file,
                              const std::map<std::string, std::string>& params) = 0;
    virtual Result<void> unload(const std::string& name) = 0;  // NotFound when absent
    virtual std::vector<PolicyInfo> list() const = 0;
    virtual Result<PolicyInfo> show(const std::string& name) const = 0;
    // Planned maintenance (nvmfctl gateway drain|resume): tells the policies
    // that handle on_drain (on_resume) that this gateway leaves service (is
    // back), so that they hand its ANA groups to peers (take them back).
    // Returns those policies' names; NotSupported, changing nothing, when
    // no loaded policy handles the event (nothing would move). A restart
    // ends a drain.
    virtual Result<std::vector<std::string>> set_draining(bool draining) = 0;
    virtual bool draining() const = 0;
};

}  // namespace nvmfd::control
