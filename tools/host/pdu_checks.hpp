// The rules a host holds a controller's PDUs to. Each check throws
// ProtocolError with a message naming the field, its value and the rule, so
// that a test against a target reads as a diagnosis.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "core/proto/tcp_pdu.hpp"
#include "tools/host/transport_params.hpp"

namespace nvmfd::host::pdu {

// ICResp must answer exactly what the ICReq asked; returns what was agreed.
TransportParams check_icresp(const proto::tcp::ICResp& resp, const TransportOptions& asked);

// First look at a PDU from the controller once its 8-byte common header is
// in: type, HLEN, digest flags and PLEN bounds. Returns how many bytes form
// the header part to read next: HLEN plus header digest, or the whole PDU
// for a C2HTermReq (which never carries digests).
uint32_t check_common_header(const proto::tcp::CommonHeader& ch, const TransportParams& params);

void check_header_digest(const std::byte* header, uint8_t hlen, const TransportParams& params);

// CapsuleResp and R2T: no data, so PLEN is the header and its digest.
void check_no_data_pdu(const proto::tcp::CommonHeader& ch, const TransportParams& params);

struct C2HDataLayout {
    uint32_t padding = 0;      // bytes between header digest and PDO
    uint32_t data_length = 0;
    bool last = false;
    bool success = false;      // no CapsuleResp will follow
};
// `success_allowed`: the host disabled SQ flow control in Connect, the only
// case in which the SUCCESS flag may be used.
C2HDataLayout check_c2h_data(const proto::tcp::DataPdu& pdu, const TransportParams& params, bool success_allowed);

const char* fes_name(uint16_t fes);
std::string describe_term_req(const proto::tcp::TermReq& term, std::span<const std::byte> error_data);

}  // namespace nvmfd::host::pdu
