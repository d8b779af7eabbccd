#include "tools/host/pdu_build.hpp"

#include <algorithm>
#include <cstring>

#include "core/proto/crc32c.hpp"

namespace nvmfd::host::pdu {

using namespace proto::tcp;

proto::tcp::ICReq build_icreq(const TransportOptions& options) {
    ICReq req{};
    req.ch.type = PduType::ICReq;
    req.ch.hlen = sizeof(ICReq);
    req.ch.plen = sizeof(ICReq);
    req.pfv = 0;
    req.hpda = options.hpda;
    req.dgst = static_cast<uint8_t>((options.header_digest ? kDigestHeader : 0) |
                                    (options.data_digest ? kDigestData : 0));
    req.maxr2t = options.maxr2t;
    return req;
}

uint32_t h2c_data_offset(uint8_t hlen, const TransportParams& params) {
    return align_up(hlen + params.header_digest_size(), params.h2c_alignment());
}

namespace {

// Header digest right after the header, zero padding up to `area_length`.
void finish_header_area(std::byte* area, uint8_t hlen, size_t area_length, const TransportParams& params) {
    size_t used = hlen;
    if (params.header_digest) {
        uint32_t digest = proto::crc32c(area, hlen);
        std::memcpy(area + hlen, &digest, sizeof digest);
        used += sizeof digest;
    }
    if (area_length > used) std::memset(area + used, 0, area_length - used);
}

uint8_t data_pdu_flags(bool has_data, const TransportParams& params) {
    uint8_t f = 0;
    if (params.header_digest) f |= flags::kHeaderDigest;
    if (has_data && params.data_digest) f |= flags::kDataDigest;
    return f;
}

}  // namespace

size_t build_capsule_header(HeaderArea out, const proto::Sqe& sqe, uint32_t in_capsule_length,
                            const TransportParams& params) {
    CapsuleCmd capsule{};
    capsule.ch.type = PduType::CapsuleCmd;
    capsule.ch.flags = data_pdu_flags(in_capsule_length > 0, params);
    capsule.ch.hlen = sizeof(CapsuleCmd);
    size_t area = sizeof(CapsuleCmd) + params.header_digest_size();
    if (in_capsule_length > 0) {
        area = h2c_data_offset(sizeof(CapsuleCmd), params);
        capsule.ch.pdo = static_cast<uint8_t>(area);
        capsule.ch.plen = static_cast<uint32_t>(area + in_capsule_length + params.data_digest_size());
    } else {
        capsule.ch.plen = static_cast<uint32_t>(area);
    }
    capsule.sqe = sqe;
    std::memcpy(out.data(), &capsule, sizeof capsule);
    finish_header_area(out.data(), sizeof(CapsuleCmd), area, params);
    return area;
}

size_t build_h2c_data_header(HeaderArea out, const H2CDataFields& fields, const TransportParams& params) {
    DataPdu h2c{};
    h2c.ch.type = PduType::H2CData;
    h2c.ch.flags = static_cast<uint8_t>(data_pdu_flags(true, params) | (fields.last ? flags::kLastPdu : 0));
    h2c.ch.hlen = sizeof(DataPdu);
    uint32_t area = h2c_data_offset(sizeof(DataPdu), params);
    h2c.ch.pdo = static_cast<uint8_t>(area);
    h2c.ch.plen = area + fields.datal + params.data_digest_size();
    h2c.cccid = fields.cccid;
    h2c.ttag = fields.ttag;
    h2c.datao = fields.datao;
    h2c.datal = fields.datal;
    std::memcpy(out.data(), &h2c, sizeof h2c);
    finish_header_area(out.data(), sizeof(DataPdu), area, params);
    return area;
}

namespace {

std::vector<std::byte> with_data(const std::byte* header_area, size_t area_length, std::span<const std::byte> data,
                                 const TransportParams& params) {
    std::vector<std::byte> pdu(header_area, header_area + area_length);
    pdu.insert(pdu.end(), data.begin(), data.end());
    if (!data.empty() && params.data_digest) {
        uint32_t digest = proto::crc32c(data.data(), data.size());
        auto bytes = as_bytes_of(digest);
        pdu.insert(pdu.end(), bytes.begin(), bytes.end());
    }
    return pdu;
}

}  // namespace

std::vector<std::byte> icreq_bytes(const TransportOptions& options) {
    ICReq req = build_icreq(options);
    auto bytes = as_bytes_of(req);
    return {bytes.begin(), bytes.end()};
}

std::vector<std::byte> capsule_bytes(const proto::Sqe& sqe, std::span<const std::byte> in_capsule_data,
                                     const TransportParams& params) {
    alignas(8) std::byte area[kHeaderArea];
    size_t length = build_capsule_header(HeaderArea(area), sqe, static_cast<uint32_t>(in_capsule_data.size()), params);
    return with_data(area, length, in_capsule_data, params);
}

std::vector<std::byte> h2c_data_bytes(const H2CDataFields& fields, std::span<const std::byte> data,
                                      const TransportParams& params) {
    alignas(8) std::byte area[kHeaderArea];
    H2CDataFields f = fields;
    f.datal = static_cast<uint32_t>(data.size());
    size_t length = build_h2c_data_header(HeaderArea(area), f, params);
    return with_data(area, length, data, params);
}

std::vector<std::byte> h2c_term_req_bytes(TermFes fes, uint32_t fei, std::span<const std::byte> offending_header) {
    size_t echoed = std::min<size_t>(offending_header.size(), kTermMaxErrorData);
    TermReq term{};
    term.ch.type = PduType::H2CTermReq;
    term.ch.hlen = sizeof(TermReq);
    term.ch.plen = static_cast<uint32_t>(sizeof(TermReq) + echoed);
    term.fes = static_cast<uint16_t>(fes);
    std::memcpy(term.fei, &fei, sizeof fei);
    // Sized once and filled with memcpy: GCC 12 at -O3 mistakes a
    // vector::insert of the echoed bytes for an out-of-bounds write.
    std::vector<std::byte> pdu(sizeof term + echoed);
    std::memcpy(pdu.data(), &term, sizeof term);
    if (echoed) std::memcpy(pdu.data() + sizeof term, offending_header.data(), echoed);
    return pdu;
}

}  // namespace nvmfd::host::pdu
