// What a host sends on NVMe/TCP, built with the tools' initiator library
// (tools/host): the tcp fuzzer's own admin association and the seed
// generator's byte streams share these.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "core/proto/nvme.hpp"
#include "tools/host/transport_params.hpp"

namespace nvmfd::fuzz {

inline constexpr const char* kHostNqn = "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-000000000f22";

// Connect (its 1024 bytes of data in the capsule) and Property Set CC.EN = 1,
// as the host library builds them; CID 0, the caller numbers commands.
struct ConnectCommand {
    proto::Sqe sqe;
    std::vector<std::byte> data;
};
ConnectCommand connect_command(std::string_view subnqn, uint16_t qid, uint16_t cntlid);
proto::Sqe enable_command();

// One connection's bytes, PDU after PDU. Capsules are numbered (CID) in order.
class HostStream {
public:
    explicit HostStream(host::TransportOptions options = {});
    const std::vector<std::byte>& bytes() const { return bytes_; }
    const host::TransportParams& params() const { return params_; }

    void connect(std::string_view subnqn, uint16_t qid, uint16_t cntlid);
    void enable();  // Property Set CC.EN = 1
    // A command; data (host to controller) rides in the capsule.
    uint16_t command(proto::Sqe sqe, std::span<const std::byte> in_capsule = {});
    // A command whose data the transport moves (R2T/H2CData or C2HData).
    uint16_t transport_command(proto::Sqe sqe, uint32_t length);
    // H2CData for the command that got the R2T with `ttag`.
    void h2c_data(uint16_t cid, uint16_t ttag, uint32_t offset, std::span<const std::byte> data, bool last);
    void append(std::span<const std::byte> raw);

private:
    std::vector<std::byte> bytes_;
    host::TransportParams params_;
    uint16_t next_cid_ = 1;
};

// The harness's admin association: ICReq, admin Connect, CC.EN = 1.
std::vector<std::byte> admin_session_bytes();
// The bytes the target answers it with: ICResp and two CapsuleResps.
size_t admin_session_reply_size();

}  // namespace nvmfd::fuzz
