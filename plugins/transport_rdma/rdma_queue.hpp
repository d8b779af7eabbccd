// One NVMe/RDMA queue (an RDMA CM connection with its reliable-connected
// queue pair), owned by one reactor thread.
//
// Receive: capsules arrive in the lane's shared receive buffers; the command
// is copied into a slot and the buffer goes back at once, except in-capsule
// write data, which is copied into pool pages first. Write data the host
// keeps (keyed SGL) is fetched with RDMA READ before the command runs.
// Send: read data goes out as RDMA WRITEs chained in front of the response
// SEND (the host sees the response only after the data is placed); all work
// requests queued in a loop turn are posted with one call.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "core/plugin/transport.hpp"
#include "core/runtime/reactor.hpp"
#include "plugins/transport_rdma/rdma_options.hpp"
#include "plugins/transport_rdma/rdma_reactor.hpp"
#include "plugins/transport_rdma/rdma_request.hpp"

struct rdma_cm_event;

namespace nvmfd::plugins::rdma {

class RdmaLane;

class RdmaQueue final : public plugin::TransportQueue,
                        private runtime::Deferred,
                        private runtime::BufferPool::Waiter {
public:
    RdmaQueue(RdmaTransport& transport, RdmaReactor& owner, IncomingQueue incoming);
    ~RdmaQueue();
    RdmaQueue(const RdmaQueue&) = delete;
    RdmaQueue& operator=(const RdmaQueue&) = delete;

    // Take the connection over from the listener's thread, create the queue
    // pair and accept. On failure the host is refused (NO_RSC) and `why`
    // says what failed; the queue is then destroyed unused.
    bool accept(std::string& why);
    uint16_t port_id() const { return port_id_; }
    ibv_context* device() const;
    const ibv_qp* queue_pair() const { return qp_; }
    bool closed() const { return dead_; }

    // plugin::TransportQueue
    void queue_response(plugin::Request& req) override;
    bool install_queue(uint16_t qid, uint32_t depth) override;
    void close(std::string_view reason) override;
    std::string peer_address() const override { return peer_; }
    runtime::Reactor& reactor() override;
    void set_sq_flow_control_disabled(bool) override {}  // every command gets its response on RDMA
    std::string_view tls_identity() const override { return {}; }
    plugin::ConnectBinding connect_binding() const override;

    // From the reactor (rdma_cm_events.cpp, rdma_receive.cpp, rdma_send.cpp).
    void on_cm_event(const rdma_cm_event& ev);
    // The host's first capsule arrived before the CM's RTU (IBV_EVENT_COMM_EST).
    void on_communication_established();
    void on_receive(RdmaLane& lane, const ibv_wc& wc);
    void on_send_completion(const ibv_wc& wc);

private:
    // runtime hooks
    void run_deferred() override { post_pending(); }
    void on_buffers_available() override;

    // receive (rdma_receive.cpp)
    bool take_pool_buffers(RdmaRequest& r);
    void data_fetched(RdmaRequest& r);  // has its pages: copy in-capsule data and run, or read
    void build_reads(RdmaRequest& r);

    // send (rdma_send.cpp)
    bool bounce_read_data(RdmaRequest& r);  // copy lent memory into pool pages and plan from them
    void send_response(RdmaRequest& r);     // WRITEs of the planned data + the SEND
    // Queue r's prepared work requests if the send queue has room (in
    // order: nobody overtakes a waiting slot); otherwise it waits.
    void submit(RdmaRequest& r);
    void enqueue_prepared(RdmaRequest& r);
    void return_credits(uint32_t n);  // and start what waits for send queue room
    void post_pending();

    // slots (rdma_queue.cpp)
    RdmaRequest* take_slot();
    void release_slot(RdmaRequest& r);
    RdmaRequest* slot_by_index(uint32_t index);
    bool move_slot(RdmaRequest& r, SlotState to) {
        if (slot_move_allowed(r.state, to)) [[likely]] {
            r.state = to;
            return true;
        }
        refuse_slot_move(r, to);
        return false;
    }
    [[gnu::cold, gnu::noinline]] void refuse_slot_move(const RdmaRequest& r, SlotState to);
    void internal_error(std::string_view what);
    template <typename Fn>
    void for_each_slot(Fn&& fn) {
        if (bootstrap_) fn(*bootstrap_);
        for (auto& s : slots_) fn(*s);
    }

    // life (rdma_queue.cpp)
    void check_connect_timeout();
    void finish_close_if_drained();
    void disconnect();
    void finish_close();
    void stop_pending();

    RdmaTransport& transport_;
    RdmaReactor& owner_;
    const RdmaOptions& options_;
    rdma_cm_id* id_;
    const QueueRequest request_;
    const uint8_t host_read_depth_;
    const uint16_t port_id_;
    const std::string peer_;
    std::string pending_address_;
    RdmaLane* lane_ = nullptr;
    ibv_qp* qp_ = nullptr;
    uint32_t qp_num_ = 0;
    bool bound_ = false;
    std::unique_ptr<plugin::QueueHandler> handler_;

    // Send queue: its size, the entries in use, the largest plan per command.
    uint32_t sq_size_ = 0;
    uint32_t sq_used_ = 0;
    uint32_t max_sge_ = 1;
    uint32_t max_read_sge_ = 1;
    bool inline_response_ = false;
    uint32_t cq_reserved_ = 0;
    ibv_send_wr* post_head_ = nullptr;
    ibv_send_wr* post_tail_ = nullptr;
    std::deque<RdmaRequest*> waiting_credits_;
    std::deque<RdmaRequest*> waiting_buffers_;

    // slots
    std::unique_ptr<RdmaRequest> bootstrap_;
    std::vector<std::unique_ptr<RdmaRequest>> slots_;
    std::vector<uint16_t> free_slots_;

    runtime::Reactor::TimerId timer_ = 0;
    runtime::Clock::time_point started_;
    bool established_ = false;
    bool closing_ = false;
    bool disconnecting_ = false;
    bool dead_ = false;
    std::string close_reason_;
    // Reads whose data lay outside registered memory and was copied first
    // (reported when the queue closes: a sign that registration failed or is off).
    uint64_t copied_reads_ = 0;
};

}  // namespace nvmfd::plugins::rdma
