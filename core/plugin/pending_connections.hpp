// Connections per peer address that have not completed a Fabrics Connect
// (max-pending-connections-per-address, a core limit every transport
// honours). Before Connect no host NQN is known: the address is the only
// handle on a host that floods connections or holds them half open. The
// listener counts a connection at accept and refuses it at the limit; the
// connection stops counting once its Connect succeeds (install_queue) or
// when it goes. Touched at accept, Connect and close only, under a mutex:
// never on the I/O path. One implementation for every transport.
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace nvmfd::plugin {

class PendingConnections {
public:
    explicit PendingConnections(uint32_t max_per_address) : max_(max_per_address) {}

    // Counts one more connection from `address`, unless it has `max` already
    // (false; `held` says how many it has either way).
    bool admit(const std::string& address, uint32_t& held);
    // That connection completed Connect or closed (any reactor).
    void release(const std::string& address);
    uint32_t max_per_address() const { return max_; }

private:
    const uint32_t max_;
    std::mutex mutex_;
    std::unordered_map<std::string, uint32_t> by_address_;
};

}  // namespace nvmfd::plugin
