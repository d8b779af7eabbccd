// One command slot of a queue pair: the contract between a transport and the
// core. The transport allocates one Request (usually a subclass carrying its
// own per-command state) per queue slot when the queue is installed and
// reuses it; nothing is allocated per command.
//
// Life of a request, as in the kernel's nvmet:
//   transport receives a capsule -> QueueHandler::prepare() parses it and
//   picks the handler -> for host-to-controller data the transport fetches
//   the data (in-capsule or R2T/H2CData) into iov -> QueueHandler::execute()
//   -> the core completes it -> TransportQueue::queue_response() sends the
//   data and/or completion -> QueueHandler::release() when the slot is free.
#pragma once

#include <cstdint>
#include <span>
#include <sys/uio.h>

#include "core/plugin/backend.hpp"
#include "core/proto/nvme.hpp"
#include "core/proto/status.hpp"

namespace nvmfd::plugin {

class QueueHandler;

enum class BufferOwner : uint8_t { None, Pool, Backend };

struct Request {
    // Wire images.
    proto::Sqe sqe{};
    proto::Cqe cqe{};

    // Data transfer, decided by prepare().
    proto::DataDirection direction = proto::DataDirection::None;
    uint32_t transfer_length = 0;  // bytes the command moves
    std::span<iovec> iov_storage;  // owned by the transport, large enough for MDTS
    uint32_t iov_count = 0;
    BufferOwner buffer_owner = BufferOwner::None;

    // The handler prepare() chose.
    void (*execute_fn)(Request&) = nullptr;
    QueueHandler* handler = nullptr;

    // Status detail for the error log page: byte offset of the bad SQE field.
    uint16_t error_location = 0xffff;

    // Core-private per-command state (transports do not touch these).
    void* core_ns = nullptr;
    uint64_t core_slba = 0;
    uint32_t core_nlb = 0;
    uint32_t core_aux = 0;
    BlockIo io;

    std::span<iovec> data() { return iov_storage.first(iov_count); }
    proto::Status status() const { return proto::Status::from_cqe(cqe.status); }
};

}  // namespace nvmfd::plugin
