#include "core/target/namespace.hpp"

#include "core/runtime/reactor.hpp"

namespace nvmfd::target {

Namespace::Namespace(uint32_t nsid, std::string backend_name, std::unique_ptr<plugin::BlockDevice> device, Uuid uuid,
                     Nguid nguid, unsigned reactor_count)
    : nsid_(nsid),
      backend_name_(std::move(backend_name)),
      device_(std::move(device)),
      caps_(device_->info()),
      num_blocks_(caps_.num_blocks),
      uuid_(uuid),
      nguid_(nguid),
      slots_(reactor_count) {}

Namespace::~Namespace() {
    // Channels go before the device they belong to.
    for (auto& s : slots_) s.channel.reset();
}

plugin::IoChannel& Namespace::channel(runtime::Reactor& r) {
    Slot& s = slots_[r.id()];
    if (!s.channel) s.channel = device_->create_channel(r);
    return *s.channel;
}

void Namespace::count_read(unsigned reactor, uint64_t bytes) {
    bump(slots_[reactor].read_commands, 1);
    bump(slots_[reactor].read_bytes, bytes);
}

void Namespace::count_write(unsigned reactor, uint64_t bytes) {
    bump(slots_[reactor].write_commands, 1);
    bump(slots_[reactor].write_bytes, bytes);
}

void Namespace::count_error(unsigned reactor) { bump(slots_[reactor].errors, 1); }
void Namespace::count_backend_error(unsigned reactor) { bump(slots_[reactor].backend_errors, 1); }

NamespaceStats Namespace::stats() const {
    NamespaceStats st;
    for (const Slot& s : slots_) {
        st.read_commands += s.read_commands.load(std::memory_order_relaxed);
        st.write_commands += s.write_commands.load(std::memory_order_relaxed);
        st.read_bytes += s.read_bytes.load(std::memory_order_relaxed);
        st.write_bytes += s.write_bytes.load(std::memory_order_relaxed);
        st.errors += s.errors.load(std::memory_order_relaxed);
        st.backend_errors += s.backend_errors.load(std::memory_order_relaxed);
    }
    return st;
}

}  // namespace nvmfd::target
