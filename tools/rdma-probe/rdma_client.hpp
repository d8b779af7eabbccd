// A minimal NVMe/RDMA host for rdma-probe: one RDMA CM connection with the
// private data the caller chooses, one registered buffer for command data,
// and synchronous submit-and-wait of single commands. Not a real host: it
// exists to send what the kernel's nvme-rdma never would.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

#include "core/proto/nvme.hpp"
#include "core/proto/rdma.hpp"

namespace nvmfd::rdma_probe {

// How a connect attempt ended.
struct ConnectOutcome {
    bool established = false;
    std::optional<uint16_t> reject_status;  // the NVMe/RDMA CM reject status, when rejected with one
    std::string event;                      // the RDMA CM event that ended it
};

// How one command ended: its completion, or why there was none.
struct CommandOutcome {
    std::optional<proto::Cqe> cqe;
    std::string failure;  // "timed out", "send failed: ...", "disconnected"
};

class RdmaClient {
public:
    RdmaClient(std::string address, std::string port);
    ~RdmaClient();
    RdmaClient(const RdmaClient&) = delete;
    RdmaClient& operator=(const RdmaClient&) = delete;

    ConnectOutcome connect(const proto::rdma::CmRequest& request, std::chrono::milliseconds timeout);
    // Sends `sqe` (its SGL as given) and waits for a response.
    CommandOutcome submit(const proto::Sqe& sqe, std::chrono::milliseconds timeout);
    // An RDMA WRITE of 512 bytes to the peer's `remote_address` and `rkey`:
    // how it completed (ibv_wc_status_str).
    std::string rdma_write(uint64_t remote_address, uint32_t rkey, std::chrono::milliseconds timeout);
    // The next RDMA CM event on the connection (DISCONNECTED, DEVICE_REMOVAL...), if one comes in time.
    std::optional<rdma_cm_event_type> wait_any_event(std::chrono::milliseconds timeout);
    // The registered buffer commands point their keyed SGLs at.
    uint8_t* data() { return data_.data(); }
    uint64_t data_address() const { return reinterpret_cast<uint64_t>(data_.data()); }
    uint32_t rkey() const { return data_mr_->rkey; }
    size_t data_size() const { return data_.size(); }

private:
    bool wait_event(rdma_cm_event_type want, std::chrono::milliseconds timeout, rdma_cm_event_type& got,
                    std::optional<uint16_t>* reject_status = nullptr);

    std::string address_, port_;
    rdma_event_channel* channel_ = nullptr;
    rdma_cm_id* id_ = nullptr;
    ibv_pd* pd_ = nullptr;
    ibv_cq* cq_ = nullptr;
    ibv_mr* data_mr_ = nullptr;
    ibv_mr* msg_mr_ = nullptr;
    std::vector<uint8_t> data_;
    alignas(64) uint8_t sqe_buf_[64]{};
    alignas(64) uint8_t cqe_buf_[64]{};
    bool connected_ = false;
};

}  // namespace nvmfd::rdma_probe
