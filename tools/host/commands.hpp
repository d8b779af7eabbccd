// Submission queue entries for the commands the host library issues. Each
// builder fills only the command-specific fields; the queue sets CID, PSDT
// and the SGL when it submits.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "core/proto/fabrics.hpp"
#include "core/proto/identify.hpp"
#include "core/proto/log_pages.hpp"
#include "core/proto/nvme.hpp"
#include "core/proto/status.hpp"

namespace nvmfd::host::cmd {

using proto::Sqe;

// Fabrics
struct ConnectParams {
    uint16_t qid = 0;
    uint16_t sqsize = 31;  // 0's based
    uint32_t kato_ms = 0;
    bool disable_sq_flow_control = false;
};
Sqe connect(const ConnectParams& params);
proto::ConnectData connect_data(const std::array<uint8_t, 16>& hostid, uint16_t cntlid, std::string_view subnqn,
                                std::string_view hostnqn);

enum class PropertySize : uint8_t { Four = 0, Eight = 1 };
PropertySize property_size(uint32_t offset);  // CAP is 8 bytes, the others 4
Sqe property_get(uint32_t offset, PropertySize size);
Sqe property_set(uint32_t offset, uint64_t value, PropertySize size);
Sqe disconnect();

// Admin
Sqe identify(proto::IdentifyCns cns, uint32_t nsid = 0, uint16_t cntid = 0, uint8_t csi = 0);
// `length` bytes from byte `offset` of log page `lid` (NUMD and LPO are derived).
Sqe get_log_page(uint8_t lid, uint32_t length, uint64_t offset = 0, uint32_t nsid = proto::kBroadcastNsid,
                 uint8_t lsp = 0, bool retain_async_event = false);
Sqe get_features(uint8_t fid, proto::FeatureSelect select = proto::FeatureSelect::Current, uint32_t cdw11 = 0,
                 uint32_t nsid = 0);
Sqe set_features(uint8_t fid, uint32_t cdw11, bool save = false, uint32_t nsid = 0);
Sqe keep_alive();
Sqe async_event_request();

// NVM command set. `nblocks` is 1-based here (1..65536) and encoded 0's based.
Sqe read(uint32_t nsid, uint64_t slba, uint32_t nblocks, bool fua = false);
Sqe write(uint32_t nsid, uint64_t slba, uint32_t nblocks, bool fua = false);
Sqe compare(uint32_t nsid, uint64_t slba, uint32_t nblocks);
Sqe write_zeroes(uint32_t nsid, uint64_t slba, uint32_t nblocks, bool deallocate = false);
Sqe flush(uint32_t nsid);
// Ranges (proto::DsmRange) travel as data; `nranges` is 1-based (1..256).
Sqe dataset_management(uint32_t nsid, uint32_t nranges, bool deallocate = true);

const char* opcode_name(uint8_t opcode, bool admin);

}  // namespace nvmfd::host::cmd
