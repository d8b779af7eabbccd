#include "tools/host/pdu_checks.hpp"

#include <cstring>
#include <fmt/format.h>

#include "core/proto/crc32c.hpp"
#include "tools/host/errors.hpp"

namespace nvmfd::host::pdu {

using namespace proto::tcp;

namespace {

const char* type_name(PduType type) {
    switch (type) {
    case PduType::ICReq: return "ICReq";
    case PduType::ICResp: return "ICResp";
    case PduType::H2CTermReq: return "H2CTermReq";
    case PduType::C2HTermReq: return "C2HTermReq";
    case PduType::CapsuleCmd: return "CapsuleCmd";
    case PduType::CapsuleResp: return "CapsuleResp";
    case PduType::H2CData: return "H2CData";
    case PduType::C2HData: return "C2HData";
    case PduType::R2T: return "R2T";
    }
    return "unknown";
}

[[noreturn]] void violation(std::string message) { throw ProtocolError(std::move(message)); }

}  // namespace

TransportParams check_icresp(const ICResp& resp, const TransportOptions& asked) {
    if (resp.ch.type != PduType::ICResp)
        violation(fmt::format("expected ICResp (type 0x01), got {} (type {:#04x})", type_name(resp.ch.type),
                              static_cast<unsigned>(resp.ch.type)));
    if (resp.ch.hlen != sizeof(ICResp) || resp.ch.plen != sizeof(ICResp))
        violation(fmt::format("ICResp HLEN {} PLEN {}, both must be 128", resp.ch.hlen, resp.ch.plen));
    if (resp.ch.flags != 0) violation(fmt::format("ICResp FLAGS {:#04x}, must be 0 (no digests on ICResp)", resp.ch.flags));
    if (resp.ch.pdo != 0) violation(fmt::format("ICResp PDO {}, must be 0", resp.ch.pdo));
    if (resp.pfv != 0) violation(fmt::format("ICResp PFV {}, only 0 is defined", resp.pfv));
    if (resp.cpda > kMaxHpda) violation(fmt::format("ICResp CPDA {}, at most {}", resp.cpda, kMaxHpda));
    bool header = resp.dgst & kDigestHeader;
    bool data = resp.dgst & kDigestData;
    if ((resp.dgst & ~(kDigestHeader | kDigestData)) != 0)
        violation(fmt::format("ICResp DGST {:#04x} has reserved bits set", resp.dgst));
    if (header != asked.header_digest)
        violation(fmt::format("ICResp header digest {} but the host asked for {}", header ? "on" : "off",
                              asked.header_digest ? "on" : "off"));
    if (data != asked.data_digest)
        violation(fmt::format("ICResp data digest {} but the host asked for {}", data ? "on" : "off",
                              asked.data_digest ? "on" : "off"));
    if (resp.maxh2cdata < kMinMaxH2CData || resp.maxh2cdata % 4 != 0)
        violation(fmt::format("ICResp MAXH2CDATA {}, must be a multiple of 4 and at least {}", resp.maxh2cdata,
                              kMinMaxH2CData));
    TransportParams params;
    params.hpda = asked.hpda;
    params.cpda = resp.cpda;
    params.header_digest = header;
    params.data_digest = data;
    params.maxh2cdata = resp.maxh2cdata;
    return params;
}

uint32_t check_common_header(const CommonHeader& ch, const TransportParams& params) {
    switch (ch.type) {
    case PduType::CapsuleResp:
    case PduType::C2HData:
    case PduType::R2T:
    case PduType::C2HTermReq: break;
    default:
        violation(fmt::format("unexpected PDU type {:#04x} ({}) from the controller", static_cast<unsigned>(ch.type),
                              type_name(ch.type)));
    }
    if (ch.hlen != header_length(ch.type))
        violation(fmt::format("{} HLEN {}, must be {}", type_name(ch.type), ch.hlen, header_length(ch.type)));

    if (ch.type == PduType::C2HTermReq) {
        if (ch.flags & (flags::kHeaderDigest | flags::kDataDigest))
            violation(fmt::format("C2HTermReq FLAGS {:#04x}: digests are never used on termination requests", ch.flags));
        if (ch.plen < ch.hlen || ch.plen > ch.hlen + kTermMaxErrorData)
            violation(fmt::format("C2HTermReq PLEN {}, must be between {} and {}", ch.plen, ch.hlen,
                                  ch.hlen + kTermMaxErrorData));
        return ch.plen;
    }

    bool hdgstf = ch.flags & flags::kHeaderDigest;
    if (hdgstf != params.header_digest)
        violation(fmt::format("{} HDGSTF is {} but header digests were negotiated {}", type_name(ch.type),
                              hdgstf ? "set" : "clear", params.header_digest ? "on" : "off"));
    uint32_t header_bytes = ch.hlen + params.header_digest_size();
    if (ch.plen < header_bytes)
        violation(fmt::format("{} PLEN {} is shorter than its header ({} bytes)", type_name(ch.type), ch.plen,
                              header_bytes));
    return header_bytes;
}

void check_header_digest(const std::byte* header, uint8_t hlen, const TransportParams& params) {
    if (!params.header_digest) return;
    uint32_t expected = proto::crc32c(header, hlen);
    uint32_t received;
    std::memcpy(&received, header + hlen, sizeof received);
    if (expected != received)
        violation(fmt::format("{} header digest {:#010x}, computed {:#010x}",
                              type_name(static_cast<PduType>(header[0])), received, expected));
}

void check_no_data_pdu(const CommonHeader& ch, const TransportParams& params) {
    if (ch.flags & flags::kDataDigest)
        violation(fmt::format("{} has DDGSTF set but carries no data", type_name(ch.type)));
    uint32_t expected = ch.hlen + params.header_digest_size();
    if (ch.plen != expected)
        violation(fmt::format("{} PLEN {}, must be {} (header{})", type_name(ch.type), ch.plen, expected,
                              params.header_digest ? " and header digest" : ""));
}

C2HDataLayout check_c2h_data(const DataPdu& pdu, const TransportParams& params, bool success_allowed) {
    const CommonHeader& ch = pdu.ch;
    C2HDataLayout layout;
    layout.last = ch.flags & flags::kLastPdu;
    layout.success = ch.flags & flags::kSuccess;
    layout.data_length = pdu.datal;

    bool ddgstf = ch.flags & flags::kDataDigest;
    if (ddgstf != params.data_digest)
        violation(fmt::format("C2HData DDGSTF is {} but data digests were negotiated {}", ddgstf ? "set" : "clear",
                              params.data_digest ? "on" : "off"));
    if (pdu.datal == 0) violation("C2HData with DATAL 0");
    uint32_t header_bytes = ch.hlen + params.header_digest_size();
    if (ch.pdo < header_bytes)
        violation(fmt::format("C2HData PDO {} points into its header ({} bytes)", ch.pdo, header_bytes));
    if (ch.pdo % params.c2h_alignment() != 0)
        violation(fmt::format("C2HData PDO {} is not a multiple of {} bytes (HPDA {})", ch.pdo,
                              params.c2h_alignment(), params.hpda));
    uint64_t expected_plen = uint64_t(ch.pdo) + pdu.datal + params.data_digest_size();
    if (ch.plen != expected_plen)
        violation(fmt::format("C2HData PLEN {}, but PDO {} + DATAL {}{} = {}", ch.plen, ch.pdo, pdu.datal,
                              params.data_digest ? " + data digest 4" : "", expected_plen));
    if (layout.success && !layout.last) violation("C2HData has SUCCESS set without LAST_PDU");
    if (layout.success && !success_allowed)
        violation("C2HData has SUCCESS set but the host did not disable SQ flow control");
    layout.padding = ch.pdo - header_bytes;
    return layout;
}

const char* fes_name(uint16_t fes) {
    switch (static_cast<TermFes>(fes)) {
    case TermFes::InvalidHeaderField: return "invalid PDU header field";
    case TermFes::PduSequenceError: return "PDU sequence error";
    case TermFes::HeaderDigestError: return "header digest error";
    case TermFes::DataOutOfRange: return "data transfer out of range";
    case TermFes::DataLimitExceeded: return "data transfer limit exceeded";
    case TermFes::UnsupportedParameter: return "unsupported parameter";
    }
    return "reserved FES";
}

std::string describe_term_req(const TermReq& term, std::span<const std::byte> error_data) {
    uint32_t fei;
    std::memcpy(&fei, term.fei, sizeof fei);
    std::string message = fmt::format("controller sent C2HTermReq: FES {} ({}), FEI {:#x}", term.fes,
                                      fes_name(term.fes), fei);
    if (!error_data.empty()) {
        message += ", offending header:";
        for (size_t i = 0; i < error_data.size() && i < 32; ++i)
            message += fmt::format(" {:02x}", static_cast<unsigned>(error_data[i]));
        if (error_data.size() > 32) message += " ...";
    }
    return message;
}

}  // namespace nvmfd::host::pdu
