// A reactor's I/O queue pair on one drive, without VFIO: BlockIos in, drive
// commands out, completions back (docs/pcie-design.md 9.4). Each BlockIo is
// planned (io_plan), each command gets a slot (its PRP list or SGL page, or
// its Dataset Management range list), the SQ doorbell is written once per
// flush(), completions are reaped by poll(), and a BlockIo completes when
// its last command has, with the worst status of them. A BlockIo's commands
// go out as slots come free, BlockIos in the order they came.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/plugin/backend.hpp"
#include "plugins/backend_pcie/io_plan.hpp"
#include "plugins/backend_pcie/prp.hpp"
#include "plugins/backend_pcie/queue_core.hpp"
#include "plugins/backend_pcie/sgl.hpp"

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
    // size each.
    // `name` starts its log lines (the drive's PCI address). `sgl`: when
    // data goes as an SGL rather than PRPs (sgl.hpp).
    DriveQueue(const QueueMemory& memory, std::span<const PrpListPage> slot_pages, const DmaTranslator& dma,
               std::chrono::milliseconds timeout, uint32_t page_size = 4096, std::string name = "pcie",
               SglUse sgl = {});

    // `shape` as a queue of this page size can carry it: the largest data
    // command capped to what one list page describes (2 MiB with 4 KiB
    // pages). What submit() is given.
    DriveShape fit(DriveShape shape) const;
    // `io` for the namespace `shape` describes (several namespaces of a
    // drive share its queue pairs); `shape` outlives the BlockIo.
    void submit(plugin::BlockIo& io, const DriveShape& shape);
    // Writes the SQ doorbell for what submit() queued since the last flush.
    void flush() { core_.ring(); }
    // Reaps completions; completes finished BlockIos; starts waiting ones.
    size_t poll();

    size_t commands_in_flight() const { return core_.outstanding(); }
    // Data commands sent, by how their data was described (the log says so
    // when the queue pair closes).
    uint64_t prp_commands() const { return prp_commands_; }
    uint64_t sgl_commands() const { return sgl_commands_; }
    size_t waiting() const { return backlog_.size() + sending_.size() + resend_.size(); }
    const QueueCore& core() const { return core_; }

    // Timeouts (docs/pcie-design.md 7.3). The oldest command past its
    // deadline, given `timeout` more for the Abort the caller sends for it;
    // `aborted_before`: it had one already, so the drive is stuck (reset).
    // A command the drive completes as aborted by nvmfd (its Abort, its
    // reset deleting the queue) is sent again, up to kMaxRetries times per
    // BlockIo.
    struct Expired {
        uint16_t cid = 0;
        bool aborted_before = false;
    };
    std::optional<Expired> expired(std::chrono::steady_clock::time_point now);
    static constexpr uint32_t kMaxRetries = 3;

    // A controller reset: hold() stops sending and reaping (BlockIos keep
    // coming and wait); once the drive has this queue pair again (created
    // anew in the same memory), resume_after_reset() submits every command
    // the drive never completed, in order, under new IDs, then what waits.
    void hold() { held_ = true; }
    bool held() const { return held_; }
    void resume_after_reset();
    // The drive is dead: every BlockIo in flight or waiting completes with
    // `status`, and so does every later one, at once.
    void fail_all(plugin::IoStatus status);
    bool failed() const { return failed_; }

private:
    // A BlockIo on its way: planned and translated once, when it starts;
    // its vectors keep their capacity for the next BlockIo in this record,
    // so the steady state allocates nothing.
    struct Parent {
        plugin::BlockIo* io = nullptr;
        const DriveShape* shape = nullptr;
        uint32_t total = 0;      // commands
        uint32_t sent = 0;
        uint32_t remaining = 0;  // not yet completed (or given up)
        plugin::IoStatus status = plugin::IoStatus::Ok;
        uint16_t device_status = 0;  // the first failure the drive reported
        uint32_t retries = 0;        // commands sent again after nvmfd's own abort or reset
        std::vector<PlannedCommand> plan;
        std::vector<DmaSegment> data;  // the BlockIo's iovecs as the drive sees them
    };
    struct Waiting {
        plugin::BlockIo* io;
        const DriveShape* shape;
    };
    bool start(plugin::BlockIo& io, const DriveShape& shape);
    static bool translate(const plugin::BlockIo& io, const DmaTranslator& dma, std::vector<DmaSegment>& out);
    void pump();
    bool send_some(uint32_t parent);  // true when all its commands are out
    bool send(const PlannedCommand& c, Parent& p, uint32_t parent, uint32_t index);
    bool describe_data(proto::Sqe& sqe, std::span<const DmaSegment> data, const PrpListPage& page);
    void complete_command(uint64_t cookie, const proto::Cqe& cqe);
    void settle(uint32_t parent, uint32_t commands, plugin::IoStatus status, uint16_t device_status = 0);
    void report(const plugin::BlockIo& io, uint32_t nsid, plugin::IoStatus status, uint16_t device_status);

    QueueCore core_;
    std::vector<PrpListPage> pages_;
    const DmaTranslator& dma_;
    std::chrono::milliseconds timeout_;
    uint32_t page_size_;
    SglUse sgl_;
    std::vector<Parent> parents_;
    std::vector<uint32_t> free_parents_;
    std::deque<uint32_t> sending_;            // parents with commands not yet sent, in order
    std::deque<Waiting> backlog_;             // BlockIos waiting for a parent record
    std::deque<uint64_t> resend_;             // commands to send again (cookies), first of all
    std::vector<DmaSegment> piece_;           // scratch
    bool pumping_ = false;
    bool held_ = false;
    bool failed_ = false;
    plugin::IoStatus failed_status_ = plugin::IoStatus::Unavailable;
    uint64_t failures_ = 0;
    uint64_t prp_commands_ = 0, sgl_commands_ = 0;
    std::string name_;
};

}  // namespace nvmfd::plugins::pcie
