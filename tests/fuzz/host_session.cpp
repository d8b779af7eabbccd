#include "tests/fuzz/host_session.hpp"

#include <array>

#include "core/proto/tcp_pdu.hpp"
#include "tests/fuzz/fuzz_model.hpp"
#include "tools/host/commands.hpp"
#include "tools/host/pdu_build.hpp"

namespace nvmfd::fuzz {

HostStream::HostStream(host::TransportOptions options) {
    append(host::pdu::icreq_bytes(options));
    // What nvmfd's ICResp grants: no alignment, the digests asked for.
    params_.header_digest = options.header_digest;
    params_.data_digest = options.data_digest;
    params_.hpda = options.hpda;
}

void HostStream::append(std::span<const std::byte> raw) { bytes_.insert(bytes_.end(), raw.begin(), raw.end()); }

uint16_t HostStream::command(proto::Sqe sqe, std::span<const std::byte> in_capsule) {
    sqe.cid = next_cid_++;
    if (!in_capsule.empty()) {
        sqe.sgl.type = proto::sgl::kInCapsule;
        sqe.sgl.address = 0;
        sqe.sgl.length = static_cast<uint32_t>(in_capsule.size());
    }
    append(host::pdu::capsule_bytes(sqe, in_capsule, params_));
    return sqe.cid;
}

uint16_t HostStream::transport_command(proto::Sqe sqe, uint32_t length) {
    sqe.sgl.type = proto::sgl::kTransport;
    sqe.sgl.address = 0;
    sqe.sgl.length = length;
    return command(sqe);
}

void HostStream::h2c_data(uint16_t cid, uint16_t ttag, uint32_t offset, std::span<const std::byte> data, bool last) {
    append(host::pdu::h2c_data_bytes({cid, ttag, offset, static_cast<uint32_t>(data.size()), last}, data, params_));
}

ConnectCommand connect_command(std::string_view subnqn, uint16_t qid, uint16_t cntlid) {
    std::array<uint8_t, 16> hostid{0xf2};
    auto data = host::cmd::connect_data(hostid, cntlid, subnqn, kHostNqn);
    auto bytes = host::pdu::as_bytes_of(data);
    ConnectCommand c{host::cmd::connect({.qid = qid, .kato_ms = 0}), {bytes.begin(), bytes.end()}};
    c.sqe.sgl.type = proto::sgl::kInCapsule;
    c.sqe.sgl.address = 0;
    c.sqe.sgl.length = static_cast<uint32_t>(c.data.size());
    return c;
}

proto::Sqe enable_command() {
    // CC: EN, IOSQES 6 (64-byte SQEs), IOCQES 4 (16-byte CQEs).
    return host::cmd::property_set(0x14, 1u | (6u << 16) | (4u << 20), host::cmd::PropertySize::Four);
}

void HostStream::connect(std::string_view subnqn, uint16_t qid, uint16_t cntlid) {
    auto c = connect_command(subnqn, qid, cntlid);
    command(c.sqe, c.data);
}

void HostStream::enable() { command(enable_command()); }

std::vector<std::byte> admin_session_bytes() {
    HostStream s;
    s.connect(kSubsystemNqn, 0, 0xffff);
    s.enable();
    return s.bytes();
}

size_t admin_session_reply_size() { return sizeof(proto::tcp::ICResp) + 2 * sizeof(proto::tcp::CapsuleResp); }

}  // namespace nvmfd::fuzz
