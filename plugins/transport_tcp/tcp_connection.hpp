// One NVMe/TCP connection (one queue pair), owned by one reactor thread.
//
// Receive: bytes land in a per-connection buffer and are parsed PDU by PDU
// (many per recv()); large data payloads are read straight into the
// command's buffer with readv(), together with whatever follows them.
// Send: responses are batched per loop turn and written with one sendmsg()
// that gathers PDU headers and data (zero copy from the backend's memory).
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "core/plugin/transport.hpp"
#include "core/proto/tcp_pdu.hpp"
#include "core/runtime/reactor.hpp"
#include "plugins/transport_tcp/tcp_options.hpp"
#include "plugins/transport_tcp/tcp_request.hpp"
#include "plugins/transport_tcp/tls_server.hpp"
#include "plugins/transport_tcp/tx_queue.hpp"

namespace nvmfd::plugins::tcp {

class TcpTransport;

class TcpConnection final : public plugin::TransportQueue,
                            private runtime::FdHandler,
                            private runtime::Deferred,
                            private runtime::BufferPool::Waiter {
public:
    // `pending_address` is counted in the transport's PendingConnections
    // until Connect succeeds or the connection goes.
    TcpConnection(TcpTransport& transport, runtime::Reactor& reactor, int fd, uint16_t port_id, std::string peer,
                  std::string pending_address, plugin::SecureChannel secure = plugin::SecureChannel::None);
    ~TcpConnection();
    TcpConnection(const TcpConnection&) = delete;
    TcpConnection& operator=(const TcpConnection&) = delete;

    void start();
    uint16_t port_id() const { return port_id_; }
    bool closed() const { return dead_; }

    // plugin::TransportQueue
    void queue_response(plugin::Request& req) override;
    bool install_queue(uint16_t qid, uint32_t depth) override;
    void close(std::string_view reason) override;
    std::string peer_address() const override { return peer_; }
    runtime::Reactor& reactor() override { return reactor_; }
    void set_sq_flow_control_disabled(bool disabled) override { sq_flow_disabled_ = disabled; }
    std::string_view tls_identity() const override;

    // Called by TcpRequest.
    void on_request_sent(TcpRequest& r);

private:
    friend struct TcpRequest;

    // runtime hooks
    void on_fd_event(uint32_t events) override;
    void run_deferred() override { flush(); }
    void on_buffers_available() override;

    // receive
    void on_readable();
    // Nothing: no bytes (would block, or the connection closed). Drained: fewer
    // bytes than there was room for, so the socket is empty for now. More: the
    // room was filled, or TLS may hold records it read ahead.
    enum class ReadResult { Nothing, Drained, More };
    ReadResult read_some();
    void process_rx();
    bool handle_header(const proto::tcp::CommonHeader& ch, const uint8_t* hdr, size_t hsize);
    bool handle_icreq(const proto::tcp::CommonHeader& ch, const uint8_t* hdr);
    bool handle_capsule(const proto::tcp::CommonHeader& ch, const uint8_t* hdr, size_t hsize);
    bool handle_h2c_data(const proto::tcp::CommonHeader& ch, const uint8_t* hdr, size_t hsize);
    bool payload_geometry(const proto::tcp::CommonHeader& ch, size_t hsize, uint32_t& pad, uint32_t& len);
    void begin_payload(TcpRequest* r, uint32_t pad, uint32_t len, uint32_t offset, bool in_capsule);
    bool consume_payload();
    void payload_received(size_t n);
    void payload_done();
    void data_complete(TcpRequest& r);
    void fatal(proto::tcp::TermFes fes, uint32_t fei, const uint8_t* hdr, size_t hdr_len);

    // flow control (tcp_flow.cpp): EPOLLIN is off only while in-capsule
    // data waits for pool pages (the bytes are in the stream); commands
    // beyond max_connection_buffer wait for budget without stopping the
    // stream, which may carry the data that frees it.
    bool input_paused() const;
    void update_input();
    void refresh_input();  // update_input, and parse what is buffered when input resumes
    uint32_t epoll_events() const;
    // After prepare(): count its data against the cap if it fits and no
    // earlier command waits (first_in_line: it is the earliest).
    bool admit(TcpRequest& r, bool first_in_line = false);
    void start_admitted(TcpRequest& r);     // fetch its write data (R2T) or execute it
    void admit_waiting();                   // start what waits for budget, in order, while it fits
    void settle_hold(TcpRequest& r);        // at queue_response(): keep counting only pool pages

    // timeouts (tcp_timeouts.cpp)
    void arm_timeout_check();
    void check_timeouts();
    void timed_out(std::string_view reason);

    // secure channel (tcp_tls.cpp): on a port with TLS the stream starts
    // with a ClientHello (or, where TLS is only allowed, maybe an ICReq)
    enum class Link : uint8_t { Ready, Detecting, Handshaking };
    void advance_link(uint32_t events);
    void handshake_step();
    ssize_t tls_read_some(size_t cap);
    void flush_tls();

    // send
    bool enqueue(TxItem& item);
    void account_sent(size_t n);  // pop what a send took; on_sent() for each whole item
    void send_r2t(TcpRequest& r);
    // Pool buffers for r's payload; false (and a wait registered) when the pool is empty.
    bool take_pool_buffers(TcpRequest& r);
    void flush();
    void set_want_write(bool on);

    // slots
    TcpRequest* take_slot();
    void release_slot(TcpRequest& r);
    // The one place a slot changes state; a change the state table refuses is
    // an internal error that closes the connection (false is returned).
    // Inline: it runs several times per command; the refusal is cold.
    bool move_slot(TcpRequest& r, SlotState to) {
        if (slot_move_allowed(r.state, to)) [[likely]] {
            r.state = to;
            return true;
        }
        refuse_slot_move(r, to);
        return false;
    }
    [[gnu::cold, gnu::noinline]] void refuse_slot_move(const TcpRequest& r, SlotState to);
    void internal_error(std::string_view what);
    template <typename Fn>
    void for_each_slot(Fn&& fn) {
        if (bootstrap_) fn(*bootstrap_);
        for (auto& s : slots_) fn(*s);
    }
    TcpRequest* slot_by_ttag(uint16_t ttag);
    void finish_close_if_drained();
    void finish_close();
    void stop_pending();  // no longer counted against max-pending-connections-per-address

    TcpTransport& transport_;
    runtime::Reactor& reactor_;
    const TcpOptions& options_;
    int fd_;
    const uint16_t port_id_;
    const std::string peer_;
    std::string pending_address_;  // empty once Connect succeeded (or it was released)
    std::unique_ptr<plugin::QueueHandler> handler_;

    // negotiated in ICReq
    bool ic_done_ = false;
    bool hdgst_ = false;
    bool ddgst_ = false;
    uint32_t host_pda_ = 0;  // bytes of alignment the host wants for C2H data
    bool sq_flow_disabled_ = false;

    // receive buffer and payload state
    std::unique_ptr<uint8_t[]> rx_;
    size_t rx_head_ = 0, rx_tail_ = 0;
    bool in_payload_ = false;
    struct Payload {
        TcpRequest* req = nullptr;  // null: the bytes are discarded
        bool in_capsule = false;
        uint32_t pad = 0;           // bytes between header and data
        uint32_t remaining = 0;     // data bytes still to come
        uint32_t offset = 0;        // where in the command's buffer the next byte goes
        uint32_t length = 0;
        bool digest = false;
        uint8_t digest_bytes[4] = {};
        uint32_t digest_have = 0;
        uint32_t crc = 0;
    } pl_;
    TcpRequest* waiting_for_rx_buffer_ = nullptr;  // in-capsule command waiting for pool pages
    std::vector<TcpRequest*> waiting_for_r2t_buffer_;
    std::deque<TcpRequest*> waiting_for_budget_;  // parsed commands not started (WaitingBudget)

    // slots
    std::unique_ptr<TcpRequest> bootstrap_;  // carries Connect before the queue is installed
    std::vector<std::unique_ptr<TcpRequest>> slots_;
    std::vector<uint16_t> free_slots_;
    uint32_t busy_slots_ = 0;
    uint64_t held_bytes_ = 0;  // pool bytes busy slots hold or may take (tcp_flow.cpp)

    // input flow and timeouts
    bool input_on_ = true;
    runtime::Reactor::TimerId timeout_timer_ = 0;
    runtime::Clock::time_point started_;
    uint64_t pdus_parsed_ = 0;   // whole PDUs received so far
    uint64_t stall_mark_ = 0;    // pdus_parsed_ when the current partial PDU was first seen
    runtime::Clock::time_point stall_since_;

    // send
    TxQueue tx_;
    bool want_write_ = false;
    struct ControlPdu final : TxItem {
        uint8_t bytes[256] = {};
        size_t len = 0;
        bool terminates = false;
        TcpConnection* conn = nullptr;
        void emit(IovEmitter& e) const override { e.add(bytes, len); }
        void on_sent() override;
    };
    ControlPdu icresp_;
    ControlPdu term_;

    Link link_ = Link::Ready;
    const plugin::SecureChannel secure_;
    std::unique_ptr<TlsStream> tls_;

    bool closing_ = false;
    bool dead_ = false;
    std::string close_reason_;
};

}  // namespace nvmfd::plugins::tcp
