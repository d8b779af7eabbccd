// A reactor's I/O queue pair on one drive, without VFIO: BlockIos in, drive
// commands out, completions back (docs/pcie-design.md 9.4). Each BlockIo is
// planned (io_plan), each command gets a slot (its PRP list page, or its
// Dataset Management range list), the SQ doorbell is written once per
// flush(), completions are reaped by poll(), and a BlockIo completes when
// its last command has, with the worst status of them. A BlockIo's commands
// go out as slots come free, BlockIos in the order they came.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <vector>

#include "core/plugin/backend.hpp"
#include "plugins/backend_pcie/io_plan.hpp"
#include "plugins/backend_pcie/prp.hpp"
#include "plugins/backend_pcie/queue_core.hpp"

namespace nvmfd::plugins::pcie {

// Where the drive finds a piece of host memory: its IOVA (the reactor's
// buffer pool is one mapping), or nullopt for memory nvmfd did not map.
class DmaTranslator {
public:
    virtual ~DmaTranslator() = default;
    virtual std::optional<uint64_t> iova(const void* p, uint64_t len) const = 0;
};

class DriveQueue {
public:
    // `slot_pages`: one page per slot (entries - 1), the drive's memory page
    // size each. The largest data command is capped to what one list page
    // describes (2 MiB with 4 KiB pages).
    DriveQueue(const QueueMemory& memory, std::span<const PrpListPage> slot_pages, const DriveShape& shape,
               const DmaTranslator& dma, std::chrono::milliseconds timeout, uint32_t page_size = 4096);

    void submit(plugin::BlockIo& io);
    // Writes the SQ doorbell for what submit() queued since the last flush.
    void flush() { core_.ring(); }
    // Reaps completions; completes finished BlockIos; starts waiting ones.
    size_t poll();

    size_t commands_in_flight() const { return core_.outstanding(); }
    size_t waiting() const { return backlog_.size() + sending_.size(); }
    const QueueCore& core() const { return core_; }

private:
    struct Parent {
        plugin::BlockIo* io = nullptr;
        uint32_t total = 0;      // commands
        uint32_t sent = 0;
        uint32_t remaining = 0;  // not yet completed (or given up)
        plugin::IoStatus status = plugin::IoStatus::Ok;
    };
    bool start(plugin::BlockIo& io);
    bool translate(const plugin::BlockIo& io);
    void pump();
    bool send_some(uint32_t parent);  // true when all its commands are out
    bool send(const PlannedCommand& c, plugin::BlockIo& io, uint32_t parent);
    void settle(uint32_t parent, uint32_t commands, plugin::IoStatus status);

    QueueCore core_;
    std::vector<PrpListPage> pages_;
    DriveShape shape_;
    const DmaTranslator& dma_;
    std::chrono::milliseconds timeout_;
    uint32_t page_size_;
    std::vector<Parent> parents_;
    std::vector<uint32_t> free_parents_;
    std::deque<uint32_t> sending_;            // parents with commands not yet sent, in order
    std::deque<plugin::BlockIo*> backlog_;    // BlockIos waiting for a parent record
    std::vector<PlannedCommand> plan_;        // scratch
    std::vector<DmaSegment> data_;            // scratch
    std::vector<DmaSegment> piece_;           // scratch
    bool pumping_ = false;
};

}  // namespace nvmfd::plugins::pcie
