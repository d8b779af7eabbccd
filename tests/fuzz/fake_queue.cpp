#include "tests/fuzz/fake_queue.hpp"

#include <algorithm>
#include <cstring>

namespace nvmfd::fuzz {
namespace {

constexpr size_t kSlots = 64;  // more than the AERs a controller parks

size_t iov_slots(uint32_t length) { return 2 * ((size_t(length) + 4095) / 4096 + 1); }

}  // namespace

FakeQueue::FakeQueue(target::Target& target, runtime::Reactor& reactor, uint16_t port_id)
    : reactor_(reactor), limits_(plugin::TransportLimits{}), handler_(target.create_queue(*this, port_id, limits_)) {}

FakeQueue::~FakeQueue() { shut_down(); }

FakeQueue::Slot* FakeQueue::free_slot() {
    for (auto& s : slots_)
        if (!s->busy) return s.get();
    if (slots_.size() == kSlots) return nullptr;
    // Made when first needed: most inputs use a few.
    auto s = std::make_unique<Slot>();
    s->iovs.resize(iov_slots(limits_.max_data_transfer));
    s->req.iov_storage = std::span<iovec>(s->iovs);
    slots_.push_back(std::move(s));
    return slots_.back().get();
}

void FakeQueue::submit(const proto::Sqe& sqe, std::span<const uint8_t> data) {
    if (closed_) return;
    Slot* s = free_slot();
    if (!s) return;  // a host may not exceed its queue: the core never sees it
    s->busy = true;
    plugin::Request& req = s->req;
    req.sqe = sqe;
    req.iov_count = 0;
    req.buffer_owner = plugin::BufferOwner::None;
    if (handler_->prepare(req)) {
        if (req.direction == proto::DataDirection::HostToController && req.transfer_length > 0) {
            size_t n = reactor_.buffers().allocate(req.transfer_length, req.iov_storage);
            if (n == 0) {
                handler_->fail(req, proto::status::kTransientTransportError);
            } else {
                req.iov_count = static_cast<uint32_t>(n);
                req.buffer_owner = plugin::BufferOwner::Pool;
                size_t offset = 0;
                for (const iovec& v : req.data()) {
                    size_t k = offset < data.size() ? std::min(v.iov_len, data.size() - offset) : 0;
                    if (k) std::memcpy(v.iov_base, data.data() + offset, k);
                    std::memset(static_cast<uint8_t*>(v.iov_base) + k, 0, v.iov_len - k);
                    offset += v.iov_len;
                }
                handler_->execute(req);
            }
        } else {
            handler_->execute(req);
        }
    }
    release_completed();
    if (close_asked_) shut_down();
}

void FakeQueue::queue_response(plugin::Request& req) {
    auto it = std::find_if(slots_.begin(), slots_.end(), [&](auto& s) { return &s->req == &req; });
    // The core completes only requests it was given, each once, and echoes their CID.
    if (it == slots_.end() || !(*it)->busy || req.cqe.cid != req.sqe.cid) std::abort();
    if (std::find(completed_.begin(), completed_.end(), it->get()) != completed_.end()) std::abort();
    last_ = req.cqe;
    completed_.push_back(it->get());
}

void FakeQueue::release(Slot& s) {
    handler_->release(s.req);
    s.busy = false;
}

void FakeQueue::release_completed() {
    // Released after the call that completed them returned, like a
    // transport that sends first: never inside the core's own frames.
    auto done = std::move(completed_);
    completed_.clear();
    for (Slot* s : done) release(*s);
}

bool FakeQueue::install_queue(uint16_t, uint32_t depth) { return depth > 0; }

void FakeQueue::close(std::string_view) { close_asked_ = true; }

void FakeQueue::shut_down() {
    if (closed_) return;
    closed_ = true;
    handler_->on_close_begin();
    release_completed();
    for (auto& s : slots_)
        if (s->busy) release(*s);
    handler_->on_closed();
}

}  // namespace nvmfd::fuzz
