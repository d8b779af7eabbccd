// A state file for tests of Lua policies: one subsystem open to any host
// with one malloc namespace, on the test's port (@PORT@), and one policy.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace nvmfd::testing {

inline std::string state_with_policy(const std::string& nqn, const std::string& policy_name,
                                     const std::string& source,
                                     const nlohmann::json& params = nlohmann::json::object()) {
    nlohmann::json j = {
        {"version", 1},
        {"subsystems",
         {{{"nqn", nqn},
           {"allow_any_host", true},
           {"namespaces", {{{"nsid", 1}, {"backend", "malloc"}, {"params", {{"size", "16M"}}}}}}}}},
        {"ports", {{{"id", 1}, {"address", "127.0.0.1"}, {"service", "@PORT@"}, {"subsystems", {nqn}}}}},
        {"policies", {{{"name", policy_name}, {"source", source}, {"file", policy_name + ".lua"}, {"params", params}}}}};
    return j.dump();
}

}  // namespace nvmfd::testing
