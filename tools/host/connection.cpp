#include "tools/host/connection.hpp"

#include <cstring>
#include <fmt/format.h>
#include <stdexcept>
#include <vector>

#include "tools/host/errors.hpp"
#include "tools/host/pdu_build.hpp"
#include "tools/host/pdu_checks.hpp"

namespace nvmfd::host {

using namespace proto::tcp;

Connection Connection::open(const Endpoint& endpoint, const TransportOptions& options) {
    return initialize(Socket::connect_tcp(endpoint.address, endpoint.port, options.connect_timeout), options);
}

Connection Connection::initialize(Socket socket, const TransportOptions& options) {
    if (options.hpda > kMaxHpda)
        throw std::invalid_argument(fmt::format("HPDA {} above the maximum {}", options.hpda, kMaxHpda));
    socket.set_nonblocking();
    Connection conn(std::move(socket), options);
    conn.peer_ = conn.socket_.peer_name();
    Deadline deadline = deadline_after(options.connect_timeout);
    if (options.tls) conn.socket_.start_tls(*options.tls, deadline);

    conn.socket_.send_all(pdu::icreq_bytes(options), deadline);

    // The answer is an ICResp, or a C2HTermReq when the target refuses the ICReq.
    alignas(8) std::byte buffer[sizeof(ICResp)];
    try {
        conn.socket_.receive_exact(std::span(buffer, sizeof(CommonHeader)), deadline);
    } catch (const ConnectionError& e) {
        // Linux nvmet closes without a C2HTermReq when it dislikes the ICReq.
        throw ConnectionError(fmt::format("{} closed the connection in answer to ICReq (HPDA {}, header digest {}, "
                                          "data digest {}, MAXR2T {}): {}",
                                          conn.peer_, options.hpda, options.header_digest ? "on" : "off",
                                          options.data_digest ? "on" : "off", options.maxr2t, e.what()));
    }
    CommonHeader ch;
    std::memcpy(&ch, buffer, sizeof ch);
    if (ch.type == PduType::C2HTermReq) {
        if (ch.plen < sizeof(TermReq) || ch.plen > sizeof(TermReq) + kTermMaxErrorData)
            throw ProtocolError(fmt::format("C2HTermReq in answer to ICReq with PLEN {}", ch.plen));
        std::vector<std::byte> rest(ch.plen - sizeof ch);
        conn.socket_.receive_exact(rest, deadline);
        TermReq term{};
        std::memcpy(&term, buffer, sizeof ch);
        std::memcpy(reinterpret_cast<std::byte*>(&term) + sizeof ch, rest.data(), sizeof(TermReq) - sizeof ch);
        uint32_t fei;
        std::memcpy(&fei, term.fei, sizeof fei);
        throw TermReqError(term.fes, fei,
                           "in answer to ICReq, " + pdu::describe_term_req(
                                                        term, std::span(rest).subspan(sizeof(TermReq) - sizeof ch)));
    }
    if (ch.type != PduType::ICResp || ch.plen != sizeof(ICResp))
        throw ProtocolError(fmt::format("expected ICResp (type 0x01, PLEN 128) in answer to ICReq, got type {:#04x} "
                                        "PLEN {}",
                                        static_cast<unsigned>(ch.type), ch.plen));
    conn.socket_.receive_exact(std::span(buffer + sizeof ch, sizeof(ICResp) - sizeof ch), deadline);
    std::memcpy(&conn.icresp_, buffer, sizeof(ICResp));
    conn.params_ = pdu::check_icresp(conn.icresp_, options);
    return conn;
}

}  // namespace nvmfd::host
