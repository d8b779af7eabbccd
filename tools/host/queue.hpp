// One NVMe/TCP queue pair seen from the host: a command id table of `depth`
// slots, pipelined submission, and the receive state machine for
// CapsuleResp, R2T, C2HData and C2HTermReq. Single-threaded: one thread owns
// a queue; many queues may be driven by one thread (wait_for_any).
//
// Errors: a completion carries the NVMe status; a protocol violation by the
// target, a closed connection or a timeout throws (ProtocolError,
// ConnectionError, TimeoutError) and leaves the queue failed for good.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/proto/nvme.hpp"
#include "core/proto/status.hpp"
#include "tools/host/connection.hpp"
#include "tools/host/inline_function.hpp"
#include "tools/host/pdu_build.hpp"
#include "tools/host/pdu_checks.hpp"
#include "tools/host/send_queue.hpp"

namespace nvmfd::host {

struct Completion {
    proto::Status status;
    uint32_t dw0 = 0;
    uint32_t dw1 = 0;
    uint16_t cid = 0;
    uint16_t sqhd = 0;
    bool by_success_flag = false;  // C2HData SUCCESS completed it; no CQE was sent

    uint64_t result64() const { return dw0 | (uint64_t(dw1) << 32); }
};

using CompletionCallback = InlineFunction<void(const Completion&), 32>;

// Where write data travels: in the command capsule, or in H2CData PDUs after
// an R2T. Auto picks in-capsule when the data fits the queue's limit.
enum class DataPlacement : uint8_t { Auto, InCapsule, Transport };

// A command's data buffer. The caller keeps it alive and unchanged until the
// command completes.
struct Transfer {
    proto::DataDirection direction = proto::DataDirection::None;
    std::byte* data = nullptr;
    uint32_t length = 0;
    DataPlacement placement = DataPlacement::Auto;

    static Transfer none() { return {}; }
    static Transfer to_controller(std::span<const std::byte> data, DataPlacement placement = DataPlacement::Auto);
    static Transfer from_controller(std::span<std::byte> data);
};

struct SubmitFlags {
    bool no_timeout = false;  // the target may hold it indefinitely (Asynchronous Event Request)
    bool keep_psdt = false;   // send SQE flags as given instead of PSDT = SGL
};

struct QueueOptions {
    std::chrono::milliseconds command_timeout{30000};
    size_t receive_buffer_size = 256 * 1024;
    // C2H data at least this long is received straight into the command's buffer.
    size_t direct_receive_threshold = 16 * 1024;
};

class Queue {
public:
    Queue(Connection connection, uint16_t qid, uint16_t depth, QueueOptions options = {});
    Queue(const Queue&) = delete;
    Queue& operator=(const Queue&) = delete;

    uint16_t qid() const { return qid_; }
    uint16_t depth() const { return static_cast<uint16_t>(slots_.size()); }
    uint16_t in_flight() const { return in_flight_; }
    bool full() const { return free_.empty(); }
    bool failed() const { return failed_; }
    const std::string& failure() const { return failure_; }
    const TransportParams& params() const { return connection_.params(); }
    Connection& connection() { return connection_; }
    const QueueOptions& options() const { return options_; }

    // Largest write that DataPlacement::Auto sends in-capsule. NVMe/TCP fixes
    // 8 KiB for the admin queue; I/O queues take it from IOCCSZ.
    void set_in_capsule_limit(uint32_t bytes) { in_capsule_limit_ = bytes; }
    uint32_t in_capsule_limit() const { return in_capsule_limit_; }
    // Set when this queue's Connect disabled SQ flow control, the one case in
    // which C2HData may carry SUCCESS.
    void set_sq_flow_control_disabled(bool disabled) { success_flag_allowed_ = disabled; }

    // Queues the command (sent by the next poll or flush); returns its CID.
    // The callback runs inside poll(); it may submit, but not poll.
    uint16_t submit(const proto::Sqe& sqe, const Transfer& transfer, CompletionCallback callback,
                    SubmitFlags flags = {});
    void flush();

    // Sends what is queued, receives and completes what has arrived, waiting
    // up to `wait` for something to arrive. Returns commands completed.
    size_t poll(std::chrono::milliseconds wait = std::chrono::milliseconds(0));

    template <typename Done>
    void run_until(Done&& done, std::chrono::milliseconds timeout, std::string_view what = "operation") {
        Deadline deadline = deadline_after(timeout);
        while (!done()) {
            Deadline now = Clock::now();
            if (now >= deadline) fail_timeout(what, timeout);
            auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - now);
            poll(std::min(left, std::chrono::milliseconds(100)));
        }
    }

    // Submit and wait; the command timeout when `timeout` is zero.
    Completion execute(const proto::Sqe& sqe, const Transfer& transfer = Transfer::none(),
                       std::chrono::milliseconds timeout = std::chrono::milliseconds(0));

    // For a thread that drives several queues (wait_for_any).
    int fd() const { return connection_.socket().fd(); }
    short wanted_events() const;

private:
    struct H2CHeader {
        alignas(8) std::byte header[pdu::kHeaderArea];
        uint32_t digest;
    };
    struct Slot {
        CompletionCallback callback;
        std::byte* data = nullptr;
        uint32_t length = 0;
        uint32_t done_bytes = 0;  // C2H bytes received, or H2C bytes asked for by R2Ts
        uint64_t send_end = 0;    // send position after this command's last byte
        Clock::time_point submitted{};
        proto::DataDirection direction = proto::DataDirection::None;
        bool in_capsule = false;
        bool busy = false;
        bool no_timeout = false;
        uint8_t opcode = 0;
        uint16_t cid = 0;
        uint16_t generation = 0;
        uint32_t capsule_digest = 0;
        alignas(8) std::byte capsule[pdu::kHeaderArea];
        std::vector<H2CHeader> h2c;  // grows to the largest R2T seen, then reused
        size_t h2c_used = 0;
    };
    enum class RxState : uint8_t { Header, Padding, Data, DataDigest };

    size_t receive();
    void drain_socket();
    void process_received();
    void dispatch(const proto::tcp::CommonHeader& ch, const std::byte* header, uint32_t header_bytes);
    void on_capsule_resp(const std::byte* header);
    void on_r2t(const std::byte* header);
    void on_c2h_data(const std::byte* header);
    void on_term_req(const std::byte* pdu, uint32_t length);
    void consume_data(const std::byte* from, size_t length);
    void finish_c2h_data();
    void complete(Slot& slot, const Completion& completion);
    Slot* find(uint16_t cid);
    std::string describe(const Slot& slot) const;
    void send_now();
    void flush_until(uint64_t position);
    void check_timeouts(Clock::time_point now);
    void check_usable() const;
    [[noreturn]] void fail_timeout(std::string_view what, std::chrono::milliseconds timeout);
    [[noreturn]] void connection_closed(int error);

    Connection connection_;
    uint16_t qid_;
    QueueOptions options_;
    std::vector<Slot> slots_;
    std::vector<uint16_t> free_;
    unsigned index_bits_ = 0;
    uint16_t in_flight_ = 0;
    uint64_t completed_ = 0;
    uint32_t in_capsule_limit_ = 0;
    bool success_flag_allowed_ = false;
    bool failed_ = false;
    bool processing_ = false;
    std::string failure_;
    Clock::time_point next_timeout_check_{};

    SendQueue send_;

    std::vector<std::byte> rx_;
    size_t rx_begin_ = 0;
    size_t rx_end_ = 0;
    RxState rx_state_ = RxState::Header;
    Slot* rx_slot_ = nullptr;
    pdu::C2HDataLayout rx_layout_{};
    uint32_t rx_left_ = 0;  // bytes left in the current padding or data part
    std::byte* rx_dest_ = nullptr;
    uint32_t rx_crc_ = 0;
};

// Waits until one of the queues has something to do or `timeout` passes.
void wait_for_any(std::span<Queue* const> queues, std::chrono::milliseconds timeout);

}  // namespace nvmfd::host
