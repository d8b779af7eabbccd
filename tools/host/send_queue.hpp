// Outgoing bytes of one connection as a list of iovecs, written with as few
// sendmsg calls as the socket allows: every PDU queued between two flushes
// goes out in one batch. Byte positions let a command know when the last of
// its bytes (and so its buffer) has left.
#pragma once

#include <cstddef>
#include <cstdint>
#include <sys/uio.h>
#include <vector>

#include "tools/host/socket.hpp"

namespace nvmfd::host {

class SendQueue {
public:
    void push(const void* data, size_t length);
    bool empty() const { return head_ == iov_.size(); }
    // Position just after the last queued byte, and how far sending got.
    uint64_t queued_position() const { return queued_; }
    uint64_t sent_position() const { return sent_; }

    // Sends what the socket takes now; returns false when the peer closed.
    bool flush(Socket& socket);

private:
    std::vector<iovec> iov_;
    size_t head_ = 0;
    uint64_t queued_ = 0;
    uint64_t sent_ = 0;
};

}  // namespace nvmfd::host
