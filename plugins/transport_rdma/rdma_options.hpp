// Settings of the NVMe/RDMA transport, from the daemon config's
// [transport.rdma] section (plugin parameters). docs/limits.md lists them.
#pragma once

#include <chrono>
#include <cstdint>

#include "core/plugin/params.hpp"

namespace nvmfd::plugins::rdma {

struct RdmaOptions {
    // Write data that may ride in the command capsule; the receive buffers
    // are 64 bytes of command plus this (IOCCSZ). The kernel's nvmet-rdma
    // uses a page, at most 16K.
    uint32_t in_capsule_data_size = 8192;
    uint32_t max_data_transfer = 1u << 20;  // MDTS in bytes
    // The deepest queue a host may open (its HSQSIZE + 1); more is refused
    // at the CM with INVALID_HSQSIZE. The Linux host asks for 128 by default.
    uint32_t max_queue_depth = 128;
    // How many RDMA READs (host-to-controller data) one queue keeps in flight;
    // also bounded by the device's max_qp_init_rd_atom and the host's offer.
    uint32_t max_read_depth = 16;
    // Receive buffers (64 bytes + in_capsule_data_size each) a reactor posts
    // per RDMA device, shared by all its queues on that device (a shared
    // receive queue). More queue depth than this is fine: a host whose
    // command finds no buffer is told to retry by the device (RNR).
    uint32_t srq_depth = 1024;
    int listen_backlog = 128;
    // Answer a host that asks for remote invalidation (keyed SGL subtype
    // Invalidate Key, what the Linux host sends for its registered buffers)
    // with SEND with Invalidate, on devices that can: the host then skips a
    // local invalidate per command. Off: plain SENDs; the host invalidates
    // its keys itself (the escape hatch for a device that misbehaves).
    bool send_with_invalidate = true;
    // Register the memory a backend lends for reads (the malloc backend's
    // namespaces) on every lane, so that read data is sent from it rather
    // than copied into pool pages first. Registering pins and commits that
    // memory (every lane counts it against the locked-memory limit).
    bool register_backend_memory = true;
    // The host's Connect (and authentication) must be done this long after
    // the CM accepted its queue.
    std::chrono::milliseconds connect_timeout{30000};
};

Result<RdmaOptions> parse_rdma_options(const plugin::Params& params);

}  // namespace nvmfd::plugins::rdma
