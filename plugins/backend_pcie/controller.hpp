// One NVMe drive driven through VFIO (docs/pcie-design.md 9.1): the device,
// its controller brought up over BAR0, the admin queue (control plane only,
// behind a mutex, polled), what Identify said, and the I/O queue IDs the
// drive granted. Shared by every nvmfd namespace on the drive and by the
// reactors' queue pairs; the last of them shuts the controller down
// normally and closes the device, which gives the drive back.
//
// A monitor thread does what reactors must not wait for (7.3-7.4): it
// aborts commands past their deadline, resets the controller when an Abort
// does not help or CSTS.CFS is set (queue pairs held, recreated in the same
// memory, resumed with what the drive never completed), and gives the
// drive up when its registers read all ones, a reset fails, or it needed
// more than two resets in a minute. When the kernel asks for the device
// back (unbind, hot removal), the drive is given up and released.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/proto/nvme.hpp"
#include "core/runtime/error.hpp"
#include "plugins/backend_pcie/dma_memory.hpp"
#include "plugins/backend_pcie/drive_commands.hpp"
#include "plugins/backend_pcie/drive_health.hpp"
#include "plugins/backend_pcie/nvme_regs.hpp"
#include "plugins/backend_pcie/pcie_options.hpp"
#include "plugins/backend_pcie/prp.hpp"
#include "plugins/backend_pcie/queue_core.hpp"
#include "plugins/backend_pcie/recovery.hpp"
#include "plugins/backend_pcie/sgl.hpp"
#include "plugins/backend_pcie/vfio_device.hpp"

namespace nvmfd::plugins::pcie {

// An I/O queue pair's memory on the drive: SQ, CQ and one PRP list page per
// command slot, in one DMA block.
struct IoQueueMemory {
    uint16_t qid = 0;
    uint16_t entries = 0;
    std::unique_ptr<DmaBlock> block;
    QueueMemory rings;
    uint64_t sq_iova = 0, cq_iova = 0;
    bool interrupts = false;  // the CQ raises MSI-X vector qid (else: polled only)
    int vector_fd = -1;       // that vector's eventfd
    std::vector<PrpListPage> slot_pages;
    uint64_t zero_page_iova = 0;  // a page of zeroes the drive may read
};

// A queue pair on a reactor, as the controller's recovery drives it.
class QueueUser {
public:
    virtual ~QueueUser() = default;
    // Runs `fn` on the queue pair's reactor and waits for it (bounded);
    // false when the reactor is gone or did not run it in time.
    virtual bool on_reactor(const std::function<void()>& fn) = 0;
    // Its reactor is gone: it touches the drive no more.
    virtual bool detached() = 0;
    // On the reactor: stop sending and reaping; send again what the drive
    // never completed (the queue pair exists again); give everything up.
    virtual void hold() = 0;
    virtual void resume_after_reset() = 0;
    virtual void fail_all() = 0;
    virtual const IoQueueMemory& queue_memory() const = 0;
};

class Controller : public std::enable_shared_from_this<Controller> {
public:
    // `interrupts`: Off polls every queue; On needs MSI-X; Auto uses it
    // when the drive has it. `sgl`: Off sends PRPs only; On needs the
    // drive's SGL support and uses SGLs for all data; Auto for large pieces.
    static Result<std::shared_ptr<Controller>> open(const std::string& bdf, InterruptMode interrupts, SglMode sgl);
    ~Controller();
    Controller(const Controller&) = delete;
    Controller& operator=(const Controller&) = delete;

    const std::string& bdf() const { return device_->bdf(); }
    const DriveController& identity() const { return identity_; }
    const regs::Cap& capabilities() const { return cap_; }
    const std::shared_ptr<VfioContainer>& container() const { return container_; }
    // The most bytes one command carries (MDTS), 0 for no limit.
    uint64_t max_transfer_bytes() const;

    Result<DriveNamespace> identify_namespace(uint32_t nsid);
    // Whether the drive's queues can raise interrupts (MSI-X eventfds).
    bool interrupts() const { return !vector_fds_.empty(); }
    SglSupport sgl_support() const { return sgl_support_; }
    SglPolicy sgl_policy() const { return sgl_policy_; }
    // Another namespace of this drive asks for `interrupts` and `sgl`: a
    // forced setting must match what the drive's queues already do.
    Result<void> accepts(InterruptMode interrupts, SglMode sgl) const;
    // A new I/O queue pair of up to `entries` entries (capped by CAP.MQES),
    // created on the drive before this returns; `interrupts` (only if
    // interrupts()): its completions signal the queue's eventfd.
    Result<IoQueueMemory> create_io_queue(uint16_t entries, bool interrupts);
    void delete_io_queue(const IoQueueMemory& q);
    // A queue pair recovery must hold, recreate and resume on a reset.
    void attach(std::weak_ptr<QueueUser> user);

    // Reactor threads: a command of queue `qid` is past its deadline
    // (docs/pcie-design.md 7.3). The monitor thread aborts it or resets
    // the controller; the reactor never waits for that.
    void command_expired(uint16_t qid, uint16_t cid, bool aborted_before);
    // Gone (its registers read all ones), failed to reset, or reset too
    // often: every command fails with a status hosts retry elsewhere.
    bool dead() const { return dead_.load(); }
    // The drive's SMART / Health log as last read: at bring-up, on each of
    // its SMART events and every kHealthReadInterval.
    DriveHealth& health() { return health_; }
    static constexpr std::chrono::seconds kHealthReadInterval{60};

private:
    struct Expiry {
        uint16_t qid, cid;
        bool aborted_before;
    };
    // What the monitor thread shares with the controller. The thread holds
    // it and only a weak reference to the controller, so the controller
    // may die while the thread handles its work: its last reference can be
    // dropped on that thread, whose loop then touches nothing else.
    struct MonitorState {
        std::mutex mutex;
        std::condition_variable wake;
        std::deque<Expiry> expired;
        bool stopping = false;
    };
    Controller() = default;
    Result<void> bring_up(InterruptMode interrupts, SglMode sgl);
    Result<void> choose_sgl_policy(SglMode sgl);
    Result<void> set_up_vectors();
    Result<void> enable_and_configure();
    Result<void> create_on_drive(const IoQueueMemory& q);
    static void monitor(std::shared_ptr<MonitorState> state, std::weak_ptr<Controller> controller);
    void handle(const Expiry& e);
    void check_health();
    void reset(const std::string& why);
    void go_dead(const std::string& why);
    std::vector<std::shared_ptr<QueueUser>> users();
    // The drive's asynchronous events (controller_events.cpp): asked for
    // at bring-up and after a reset; completions, which any admin() call
    // may reap, handled by the monitor thread.
    void arm_events();
    void check_events();
    void handle_event(const proto::Cqe& cqe);
    // Reads the SMART / Health log into health_ (monitor thread, bring-up).
    void read_health();
    bool request_event();  // under admin_mutex_
    static constexpr uint64_t kEventCookie = 1;  // an event request's, on the admin queue (admin()'s are 0)
    // One admin command, waited for (polled) up to `timeout`; with
    // `data_out`, the 4 KiB the drive wrote into the admin data page
    // (whose IOVA admin_data_iova() is) are copied there.
    Result<proto::Cqe> admin(proto::Sqe sqe, std::chrono::milliseconds timeout = std::chrono::seconds(10),
                             void* data_out = nullptr);
    uint64_t admin_data_iova() const;

    std::shared_ptr<VfioContainer> container_;
    std::unique_ptr<VfioDevice> device_;
    std::unique_ptr<DmaBlock> admin_memory_;  // SQ page, CQ page, one 4 KiB data page
    std::mutex admin_mutex_;
    std::optional<QueueCore> admin_queue_;
    std::vector<proto::Cqe> event_completions_;  // under admin_mutex_
    uint32_t reported_events_ = 0;               // what the drive agreed to report
    DriveHealth health_;
    std::chrono::steady_clock::time_point next_health_read_{};  // the monitor's
    regs::Cap cap_;
    DriveController identity_;
    std::vector<uint16_t> free_qids_;
    uint16_t granted_queues_ = 0;
    SglSupport sgl_support_ = SglSupport::None;
    SglPolicy sgl_policy_ = SglPolicy::Never;
    bool enabled_ = false;
    std::vector<int> vector_fds_;  // by queue ID (0, the admin queue's, unused: -1)

    // Recovery: the monitor thread and what the reactors reported to it.
    Recovery recovery_{RecoveryLimits{}};  // the monitor thread's
    std::atomic<bool> dead_{false};
    bool queues_stopped_ = false;  // the monitor's: every queue pair failed (fail_all ran)
    std::shared_ptr<MonitorState> monitor_state_ = std::make_shared<MonitorState>();
    std::thread monitor_;
    std::mutex users_mutex_;
    std::vector<std::weak_ptr<QueueUser>> users_;
};

}  // namespace nvmfd::plugins::pcie
