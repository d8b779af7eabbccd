// One NVMe/TCP connection after connection initialization: the socket and
// what ICReq/ICResp agreed on. A queue (admin or I/O) runs on top of it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/proto/tcp_pdu.hpp"
#include "tools/host/socket.hpp"
#include "tools/host/transport_params.hpp"

namespace nvmfd::host {

struct Endpoint {
    std::string address = "127.0.0.1";
    uint16_t port = 4420;
};

class Connection {
public:
    // TCP connect, ICReq, ICResp checked against what was asked.
    static Connection open(const Endpoint& endpoint, const TransportOptions& options);
    // Connection initialization over an already connected socket.
    static Connection initialize(Socket socket, const TransportOptions& options);

    Socket& socket() { return socket_; }
    const Socket& socket() const { return socket_; }
    const TransportParams& params() const { return params_; }
    const TransportOptions& options() const { return options_; }
    const proto::tcp::ICResp& icresp() const { return icresp_; }
    const std::string& peer() const { return peer_; }

private:
    Connection(Socket socket, TransportOptions options) : socket_(std::move(socket)), options_(options) {}

    Socket socket_;
    TransportOptions options_;
    TransportParams params_;
    proto::tcp::ICResp icresp_{};
    std::string peer_;
};

}  // namespace nvmfd::host
