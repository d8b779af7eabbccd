#include "core/plugin/pending_connections.hpp"

namespace nvmfd::plugin {

bool PendingConnections::admit(const std::string& address, uint32_t& held) {
    std::lock_guard lock(mutex_);
    auto it = by_address_.find(address);
    held = it == by_address_.end() ? 0 : it->second;
    if (held >= max_) return false;
    // Inserted only when admitted: refused addresses leave no entry behind.
    ++by_address_[address];
    return true;
}

void PendingConnections::release(const std::string& address) {
    std::lock_guard lock(mutex_);
    auto it = by_address_.find(address);
    if (it != by_address_.end() && --it->second == 0) by_address_.erase(it);
}

}  // namespace nvmfd::plugin
