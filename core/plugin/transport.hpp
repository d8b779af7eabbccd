// The transport plugin interface (the kernel nvmet's nvmet_fabrics_ops and
// SPDK's spdk_nvmf_transport_ops in C++). A transport accepts connections on
// ports and moves capsules and data; it knows nothing of subsystems or
// controllers. The core gives each connection a QueueHandler.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/plugin/params.hpp"
#include "core/plugin/request.hpp"
#include "core/proto/log_pages.hpp"
#include "core/runtime/error.hpp"

namespace nvmfd::runtime {
class Reactor;
class ReactorGroup;
}  // namespace nvmfd::runtime

namespace nvmfd::plugin {

// Whether hosts reach a port through a secure channel (NVMe/TCP: TLS 1.3
// with a PSK, TP 8011): never, as they choose, or always.
enum class SecureChannel : uint8_t { None, Allowed, Required };

struct PortConfig {
    uint16_t id = 0;
    std::string transport;  // "tcp"
    std::string family;     // "ipv4", "ipv6"
    std::string address;
    std::string service;    // TCP port number
    Params params;          // transport-specific per-port settings
    SecureChannel secure_channel = SecureChannel::None;
};

// The TLS PSK for one client's PSK identity, as the core derived it from
// the host's configured key, and the other PSKs the host may hold for it
// (derivations of older tools): the transport uses the one the
// ClientHello's binder proves, else `key`. Wiped when it goes.
struct TlsPsk {
    struct Alternative {
        std::vector<uint8_t> key;
        std::string derivation;  // what made it, for the log
    };
    std::vector<uint8_t> key;
    std::string derivation;
    bool standard = true;  // `key` follows the specification (RFC 8446 HkdfLabel)
    bool sha384 = false;   // TLS_AES_256_GCM_SHA384; otherwise TLS_AES_128_GCM_SHA256
    std::vector<Alternative> alternatives;  // never standard
    TlsPsk() = default;
    TlsPsk(TlsPsk&&) = default;
    TlsPsk& operator=(TlsPsk&&) = default;
    ~TlsPsk() {
        wipe(key);
        for (auto& a : alternatives) wipe(a.key);
    }

private:
    static void wipe(std::vector<uint8_t>& k) {
        volatile uint8_t* p = k.data();
        for (size_t i = 0; i < k.size(); ++i) p[i] = 0;
    }
};

// What a discovery log entry says about how to reach a port.
struct DiscoveryAddress {
    proto::TransportType trtype{};
    proto::AddressFamily adrfam{};
    uint8_t treq = 0;
    std::string traddr;
    std::string trsvcid;
    uint8_t tsas[256]{};
};

// What a transport settled about a queue before its Fabrics Connect, that
// the Connect must agree with (NVMe/RDMA: the QID and the queue depth the
// host announced in its RDMA CM request, for which the transport sized the
// queue pair). NVMe/TCP settles nothing: everything is empty.
struct ConnectBinding {
    std::optional<uint16_t> qid;  // the only QID Connect may name
    uint32_t max_depth = 0;       // the most entries (SQSIZE + 1) Connect may ask for; 0: no bound
};

// The transport's side of one connection (queue pair), called by the core on
// the connection's reactor thread.
class TransportQueue {
public:
    // The request is complete: send its data (controller-to-host) and/or its
    // completion. The transport calls QueueHandler::release() once done.
    virtual void queue_response(Request& req) = 0;
    // Allocate `depth` request slots; called by the core when Connect succeeds.
    virtual bool install_queue(uint16_t qid, uint32_t depth) = 0;
    // Close the connection (keep-alive expiry, controller teardown, disconnect).
    // In-flight requests still complete into the core before the slots go.
    virtual void close(std::string_view reason) = 0;
    virtual std::string peer_address() const = 0;
    virtual runtime::Reactor& reactor() = 0;
    // The host disabled SQ flow control (Connect CATTR) - lets the transport
    // drop completions for successful reads where the protocol allows.
    virtual void set_sq_flow_control_disabled(bool disabled) = 0;
    // The TLS PSK identity the host authenticated with; empty on a
    // connection without TLS. Connect checks that it names the same host
    // and subsystem.
    virtual std::string_view tls_identity() const = 0;
    // What Connect must agree with; refused with Invalid Parameters naming
    // QID or SQSIZE otherwise (install_queue() could only fail without a field).
    virtual ConnectBinding connect_binding() const { return {}; }
protected:
    ~TransportQueue() = default;
};

// The core's side of one connection, called by the transport on the
// connection's reactor thread.
class QueueHandler {
public:
    virtual ~QueueHandler() = default;
    // Parse a received command. Returns false if it already completed (an
    // error): queue_response() has been called.
    virtual bool prepare(Request& req) = 0;
    // Run it; for host-to-controller commands the data is in req.iov.
    virtual void execute(Request& req) = 0;
    // The transport failed the command before it ran (e.g. a data digest
    // error): complete it with `status` (queue_response() follows).
    virtual void fail(Request& req, proto::Status status) = 0;
    // The response left; the slot is free again.
    virtual void release(Request& req) = 0;
    // The connection is closing: complete every request the core is holding
    // back (e.g. Asynchronous Event Requests) so that the transport can drain.
    virtual void on_close_begin() = 0;
    // The connection is gone; called once, after all requests were released.
    virtual void on_closed() = 0;
    // Connect done and, where the host must authenticate, authenticated:
    // until then the transport's connect timeout still applies, so that a
    // host cannot hold a queue open by never finishing authentication.
    virtual bool established() const { return true; }
};

struct TransportLimits {
    uint32_t in_capsule_data_size = 8192;  // reported as IOCCSZ
    uint32_t max_data_transfer = 1u << 20; // MDTS in bytes
    proto::TransportType trtype = proto::TransportType::Tcp;  // reported in error log entries
    // Data the transport moves is described by Keyed SGL Data Blocks
    // (NVMe/RDMA; reported in Identify SGLS) instead of the Transport SGL
    // Data Block (NVMe/TCP); a queue accepts only its transport's kind.
    bool keyed_sgl = false;
};

// Bounds the core sets for every transport (daemon options, docs/limits.md).
struct ConnectionLimits {
    // Connections from one peer address that have not completed a Fabrics
    // Connect yet (accepted, maybe past ICReq): before Connect no host NQN
    // is known, so the address is all a flood can be bounded by. A
    // transport refuses more at accept, before spending anything on them.
    uint32_t max_pending_per_address = 1024;
};

// What the core offers a transport.
class TransportEnv {
public:
    virtual runtime::ReactorGroup& reactors() = 0;
    // Called on the reactor that will own the connection.
    virtual std::unique_ptr<QueueHandler> create_queue(TransportQueue& queue, uint16_t port_id,
                                                       const TransportLimits& limits) = 0;
    // A listening port stopped taking new hosts (accepting = false: out of
    // descriptors, the listener failed) or takes them again; any thread.
    // Hosts already connected are not affected. Policies hear of it
    // (on_port_change, change "down"/"up").
    virtual void port_state_changed(uint16_t port_id, bool accepting, std::string_view reason) = 0;
    // A TLS client on `port_id` presented `identity`: the PSK to use, or
    // nullopt (not an NVMe identity, unknown host or subsystem, no key), and
    // the handshake fails. Called on the reactor that owns the connection.
    virtual std::optional<TlsPsk> tls_psk(runtime::Reactor& reactor, uint16_t port_id, std::string_view identity) = 0;
    virtual ConnectionLimits connection_limits() const = 0;
protected:
    ~TransportEnv() = default;
};

class Transport {
public:
    virtual ~Transport() = default;
    virtual std::string_view name() const = 0;
    virtual TransportLimits limits() const = 0;
    virtual Result<void> add_port(const PortConfig& port) = 0;
    // Stop listening and close every connection that came in through the port.
    virtual void remove_port(uint16_t port_id) = 0;
    virtual DiscoveryAddress discovery_address(const PortConfig& port) const = 0;
    // Stop accepting everywhere (shutdown).
    virtual void stop_listening() = 0;

    // Memory a backend lends for reads (BlockDevice::pin_lent_memory), which
    // responses' data may point into. A transport that must register memory
    // with its hardware before moving it (RDMA) says so here; the core then
    // pins the lending devices' memory and tells it of each range, so that
    // it sends from there instead of copying into its own buffers. The core
    // withdraws a range once every command that used it has been released
    // (or once the drain gives up, after 30 s: what still uses the range then
    // fails rather than read memory that is gone), before the memory goes;
    // the call returns when nothing of the transport's uses the range any
    // more. Control thread.
    virtual bool registers_lent_memory() const { return false; }
    virtual void memory_lent(std::span<const std::byte> /*range*/) {}
    virtual void memory_withdrawn(std::span<const std::byte> /*range*/) {}
};

}  // namespace nvmfd::plugin
