// A subsystem as the data path sees it: an immutable value inside a target
// snapshot. The control plane builds a new one for every change.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/target/host_auth.hpp"
#include "core/target/namespace.hpp"

namespace nvmfd::target {

struct NamespaceEntry {
    std::shared_ptr<Namespace> ns;
    uint32_t ana_group = 1;
    std::vector<std::string> visible_to;  // host NQNs; empty = every host allowed on the subsystem

    bool visible_for(const std::string& hostnqn) const {
        return visible_to.empty() || std::find(visible_to.begin(), visible_to.end(), hostnqn) != visible_to.end();
    }
};

struct Subsystem {
    std::string nqn;
    std::string serial;
    std::string model;
    bool allow_any_host = false;
    std::vector<std::string> hosts;  // sorted
    std::map<std::string, std::shared_ptr<const HostAuth>> host_auth;  // by host NQN
    uint32_t max_namespaces = 1024;
    uint16_t min_cntlid = 1;  // the controller IDs Connect hands out
    uint16_t max_cntlid = 0xffef;
    std::vector<NamespaceEntry> namespaces;  // sorted by NSID

    // An empty host NQN (SPDK's tools send one unless told otherwise) is
    // allowed only where any host is: an allow-list never matches it.
    bool host_allowed(const std::string& hostnqn) const {
        if (allow_any_host) return true;
        return !hostnqn.empty() && std::binary_search(hosts.begin(), hosts.end(), hostnqn);
    }
    // The host's authentication settings; null when it has none.
    const HostAuth* auth_for(const std::string& hostnqn) const {
        auto it = host_auth.find(hostnqn);
        return it == host_auth.end() ? nullptr : it->second.get();
    }
    const NamespaceEntry* find_namespace(uint32_t nsid) const {
        auto it = std::lower_bound(namespaces.begin(), namespaces.end(), nsid,
                                   [](const NamespaceEntry& e, uint32_t id) { return e.ns->nsid() < id; });
        return (it != namespaces.end() && it->ns->nsid() == nsid) ? &*it : nullptr;
    }
};

}  // namespace nvmfd::target
