#include "tools/host/raw_connection.hpp"

#include <algorithm>
#include <cstring>
#include <fmt/format.h>
#include <poll.h>

#include "tools/host/errors.hpp"
#include "tools/host/pdu_build.hpp"
#include "tools/host/pdu_checks.hpp"

namespace nvmfd::host {

using namespace proto::tcp;

RawConnection::RawConnection(Socket socket) : socket_(std::move(socket)) { socket_.set_nonblocking(); }

RawConnection RawConnection::open(const Endpoint& endpoint, std::chrono::milliseconds timeout) {
    return RawConnection(Socket::connect_tcp(endpoint.address, endpoint.port, timeout));
}

void RawConnection::send(std::span<const std::byte> bytes, std::chrono::milliseconds timeout) {
    socket_.send_all(bytes, deadline_after(timeout));
}

ICResp RawConnection::handshake(const TransportOptions& options, std::chrono::milliseconds timeout) {
    send(pdu::icreq_bytes(options), timeout);
    std::optional<ReceivedPdu> pdu = receive_pdu(timeout, sizeof(ICResp) + kTermMaxErrorData);
    if (!pdu) throw ConnectionError("target closed the connection instead of answering ICReq");
    if (pdu->header.type == PduType::C2HTermReq) {
        TermReq term = pdu->as<TermReq>();
        throw TermReqError(term.fes, 0, pdu::describe_term_req(term, {}));
    }
    if (pdu->header.type != PduType::ICResp || pdu->bytes.size() != sizeof(ICResp))
        throw ProtocolError(fmt::format("expected a 128-byte ICResp, got type {:#04x} of {} bytes",
                                        static_cast<unsigned>(pdu->header.type), pdu->bytes.size()));
    return pdu->as<ICResp>();
}

std::vector<std::byte> RawConnection::receive_some(size_t max, std::chrono::milliseconds timeout) {
    if (!pending_.empty()) {
        size_t n = std::min(max, pending_.size());
        std::vector<std::byte> out(pending_.begin(), pending_.begin() + static_cast<ptrdiff_t>(n));
        pending_.erase(pending_.begin(), pending_.begin() + static_cast<ptrdiff_t>(n));
        return out;
    }
    Deadline deadline = deadline_after(timeout);
    std::vector<std::byte> out(max);
    for (;;) {
        IoResult r = socket_.receive_some(out.data(), out.size());
        if (r.status == IoStatus::Ok) {
            out.resize(r.bytes);
            return out;
        }
        if (r.status == IoStatus::Closed) return {};
        if (socket_.wait(POLLIN, deadline) == 0)
            throw TimeoutError(fmt::format("nothing received within {} ms", timeout.count()));
    }
}

std::optional<ReceivedPdu> RawConnection::receive_pdu(std::chrono::milliseconds timeout, size_t max_plen) {
    Deadline deadline = deadline_after(timeout);
    auto fill = [&](size_t want) -> bool {  // false on close
        while (pending_.size() < want) {
            std::byte chunk[4096];
            IoResult r = socket_.receive_some(chunk, std::min(sizeof chunk, want - pending_.size()));
            if (r.status == IoStatus::Ok) {
                pending_.insert(pending_.end(), chunk, chunk + r.bytes);
            } else if (r.status == IoStatus::Closed) {
                return false;
            } else if (socket_.wait(POLLIN, deadline) == 0) {
                throw TimeoutError(fmt::format("incomplete PDU after {} ms: {} of {} bytes", timeout.count(),
                                               pending_.size(), want));
            }
        }
        return true;
    };
    if (!fill(sizeof(CommonHeader))) {
        if (pending_.empty()) return std::nullopt;
        throw ConnectionError(fmt::format("peer closed after {} bytes of a PDU header", pending_.size()));
    }
    ReceivedPdu pdu;
    std::memcpy(&pdu.header, pending_.data(), sizeof pdu.header);
    if (pdu.header.plen < sizeof(CommonHeader) || pdu.header.plen > max_plen)
        throw ProtocolError(fmt::format("PDU type {:#04x} with PLEN {} (accepted: 8..{})",
                                        static_cast<unsigned>(pdu.header.type), pdu.header.plen, max_plen));
    if (!fill(pdu.header.plen))
        throw ConnectionError(fmt::format("peer closed after {} of {} bytes of a PDU", pending_.size(),
                                          pdu.header.plen));
    pdu.bytes.assign(pending_.begin(), pending_.begin() + pdu.header.plen);
    pending_.erase(pending_.begin(), pending_.begin() + pdu.header.plen);
    return pdu;
}

TermRequest RawConnection::expect_term_req(std::chrono::milliseconds timeout) {
    std::optional<ReceivedPdu> pdu = receive_pdu(timeout, sizeof(TermReq) + kTermMaxErrorData);
    if (!pdu) throw ProtocolError("expected C2HTermReq, but the target closed the connection without one");
    if (pdu->header.type != PduType::C2HTermReq)
        throw ProtocolError(fmt::format("expected C2HTermReq, got PDU type {:#04x} of {} bytes",
                                        static_cast<unsigned>(pdu->header.type), pdu->bytes.size()));
    if (pdu->header.hlen != sizeof(TermReq) || pdu->bytes.size() < sizeof(TermReq))
        throw ProtocolError(fmt::format("C2HTermReq with HLEN {} and PLEN {}", pdu->header.hlen, pdu->header.plen));
    TermReq term = pdu->as<TermReq>();
    TermRequest result;
    result.fes = term.fes;
    std::memcpy(&result.fei, term.fei, sizeof result.fei);
    result.offending_header.assign(pdu->bytes.begin() + sizeof(TermReq), pdu->bytes.end());
    return result;
}

bool RawConnection::wait_closed(std::chrono::milliseconds timeout) {
    Deadline deadline = deadline_after(timeout);
    pending_.clear();
    for (;;) {
        std::byte sink[4096];
        IoResult r = socket_.receive_some(sink, sizeof sink);
        if (r.status == IoStatus::Closed) return true;
        if (r.status == IoStatus::WouldBlock && socket_.wait(POLLIN, deadline) == 0) return false;
    }
}

}  // namespace nvmfd::host
