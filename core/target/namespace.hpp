// A namespace: its identity, its backend device, and per-reactor state (the
// backend's I/O channel, in-flight count and I/O counters). The object lives
// as long as the namespace exists; snapshots share it. Each per-reactor slot
// is written only by its reactor, so the I/O path takes no lock and does no
// atomic read-modify-write.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/plugin/backend.hpp"
#include "core/target/identifiers.hpp"

namespace nvmfd::runtime { class Reactor; }

namespace nvmfd::target {

struct NamespaceStats {
    uint64_t read_commands = 0;
    uint64_t write_commands = 0;
    uint64_t read_bytes = 0;
    uint64_t write_bytes = 0;
    uint64_t errors = 0;          // every failed command (host mistakes included)
    uint64_t backend_errors = 0;  // the backend failed the I/O (medium, space, device gone)
};

class Namespace {
public:
    Namespace(uint32_t nsid, std::string backend_name, std::unique_ptr<plugin::BlockDevice> device, Uuid uuid,
              Nguid nguid, unsigned reactor_count);
    ~Namespace();
    Namespace(const Namespace&) = delete;
    Namespace& operator=(const Namespace&) = delete;

    uint32_t nsid() const { return nsid_; }
    const std::string& backend_name() const { return backend_name_; }
    const Uuid& uuid() const { return uuid_; }
    const Nguid& nguid() const { return nguid_; }
    const plugin::DeviceInfo& caps() const { return caps_; }
    uint32_t block_size() const { return caps_.block_size; }
    uint64_t num_blocks() const { return num_blocks_.load(std::memory_order_relaxed); }
    uint64_t size_bytes() const { return num_blocks() * block_size(); }
    plugin::BlockDevice& device() { return *device_; }
    const plugin::BlockDevice& device() const { return *device_; }

    // Control thread: after the device was resized.
    void set_num_blocks(uint64_t n) { num_blocks_.store(n, std::memory_order_relaxed); }

    // Reactor thread only (r.id() indexes the slot).
    plugin::IoChannel& channel(runtime::Reactor& r);
    void io_started(unsigned reactor) { slots_[reactor].inflight++; }
    void io_finished(unsigned reactor) { slots_[reactor].inflight--; }
    uint64_t inflight(unsigned reactor) const { return slots_[reactor].inflight; }
    void count_read(unsigned reactor, uint64_t bytes);
    void count_write(unsigned reactor, uint64_t bytes);
    void count_error(unsigned reactor);
    void count_backend_error(unsigned reactor);

    // Any thread: a sum of the per-reactor counters (each slot read atomically).
    NamespaceStats stats() const;

private:
    // Counters have one writer (the slot's reactor) and relaxed readers.
    struct alignas(64) Slot {
        std::unique_ptr<plugin::IoChannel> channel;
        uint64_t inflight = 0;
        std::atomic<uint64_t> read_commands{0};
        std::atomic<uint64_t> write_commands{0};
        std::atomic<uint64_t> read_bytes{0};
        std::atomic<uint64_t> write_bytes{0};
        std::atomic<uint64_t> errors{0};
        std::atomic<uint64_t> backend_errors{0};
    };
    static void bump(std::atomic<uint64_t>& c, uint64_t by) {
        c.store(c.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
    }

    const uint32_t nsid_;
    const std::string backend_name_;
    std::unique_ptr<plugin::BlockDevice> device_;
    const plugin::DeviceInfo caps_;
    std::atomic<uint64_t> num_blocks_;
    const Uuid uuid_;
    const Nguid nguid_;
    std::vector<Slot> slots_;
};

}  // namespace nvmfd::target
