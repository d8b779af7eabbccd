#include "tools/attack/raw_admin_connect.hpp"

#include <chrono>

#include "tools/host/commands.hpp"
#include "tools/host/errors.hpp"
#include "tools/host/pdu_build.hpp"
#include "tools/host/pdu_checks.hpp"

namespace nvmfd::attack {

RawAdmin raw_admin_connect(host::RawConnection& raw, const std::string& subnqn, const std::string& hostnqn,
                           const std::array<uint8_t, 16>& hostid) {
    using namespace std::chrono_literals;
    RawAdmin out;
    out.params = host::pdu::check_icresp(raw.handshake({}), {});
    auto data = host::cmd::connect_data(hostid, 0xffff, subnqn, hostnqn);
    proto::Sqe sqe = host::cmd::connect({.qid = 0, .sqsize = 31});
    sqe.sgl = {};
    sqe.sgl.type = proto::sgl::kInCapsule;
    sqe.sgl.length = sizeof data;
    raw.send(host::pdu::capsule_bytes(sqe, host::pdu::as_bytes_of(data), out.params));
    auto resp = raw.receive_pdu(5s);
    if (!resp) throw host::ConnectionError("the target closed the connection instead of answering Connect");
    if (resp->header.type != proto::tcp::PduType::CapsuleResp)
        throw host::ProtocolError("the answer to Connect is not a CapsuleResp");
    out.status = proto::Status::from_cqe(resp->as<proto::tcp::CapsuleResp>().cqe.status);
    return out;
}

}  // namespace nvmfd::attack
