#include "core/target/queue_pair.hpp"

#include <algorithm>
#include <cstring>
#include <utility>

#include "core/runtime/log.hpp"
#include "core/target/exec.hpp"
#include "core/target/target.hpp"

namespace nvmfd::target {

using proto::DataDirection;
using proto::Status;
namespace status = proto::status;

QueuePair::QueuePair(Target& target, plugin::TransportQueue& transport, uint16_t port_id,
                     const plugin::TransportLimits& limits)
    : target_(target),
      transport_(transport),
      reactor_(transport.reactor()),
      reactor_id_(transport.reactor().id()),
      port_id_(port_id),
      limits_(limits),
      admission_(reactor_) {}

QueuePair::~QueuePair() { reactor_.buffers().cancel_wait(*this); }

const TargetSnapshot& QueuePair::snapshot() const { return target_.current(reactor_id_); }

void QueuePair::refresh_cache() {
    const TargetSnapshot& snap = snapshot();
    if (snap.generation == cached_generation_) return;
    cached_generation_ = snap.generation;
    cached_port_ = snap.find_port(port_id_);
    cached_subsystem_ = nullptr;
    if (controller_ && !controller_->is_discovery()) {
        const Subsystem* s = snap.find_subsystem(controller_->identity().subnqn);
        // A subsystem unlinked from this port is as gone as a removed one.
        if (s && cached_port_ && cached_port_->exposes(s->nqn)) cached_subsystem_ = s;
    }
}

const Subsystem* QueuePair::subsystem() {
    refresh_cache();
    return cached_subsystem_;
}

const Port* QueuePair::port() {
    refresh_cache();
    return cached_port_;
}

void QueuePair::bind(std::shared_ptr<Controller> ctrl, uint16_t qid, uint32_t sq_size) {
    controller_ = std::move(ctrl);
    qid_ = qid;
    sq_size_ = sq_size;
    cached_generation_ = UINT64_MAX;
}

uint32_t QueuePair::sgl_data_length(const proto::SglDescriptor& sgl) const {
    // Only a transport that uses keyed descriptors reads bytes 11..14 as a
    // key: on NVMe/TCP the length is the whole 32-bit field, as it always was.
    return limits_.keyed_sgl ? proto::sgl_data_length(sgl) : sgl.length;
}

bool QueuePair::transport_moves(const proto::SglDescriptor& sgl) const {
    if (limits_.keyed_sgl) return sgl.type == proto::sgl::kKeyed || sgl.type == proto::sgl::kKeyedInvalidate;
    return sgl.type == proto::sgl::kTransport;
}

bool QueuePair::prepare(plugin::Request& req) {
    req.handler = this;
    req.execute_fn = nullptr;
    req.error_location = 0xffff;
    req.cqe = proto::Cqe{};
    req.direction = DataDirection::None;
    req.transfer_length = 0;
    req.core_ns = nullptr;
    if (sq_size_) sq_head_ = (sq_head_ + 1) % sq_size_;

    Status st;
    if (closing_) {
        st = status::kAbortSqDeleted;
    } else if (req.sqe.fused()) {
        // Fused operations (Compare and Write) are not supported: running the
        // halves as two unrelated commands would break their atomicity.
        st = fail_at(req, status::kInvalidField, offsetof(proto::Sqe, flags));
    } else if (req.sqe.opcode == uint8_t(proto::AdminOpcode::Fabrics)) {
        st = parse_fabrics_command(*this, req);
    } else if (!controller_) {
        // Nothing but Connect may come before Connect.
        st = status::kCommandSequenceError;
    } else if (awaiting_authentication()) {
        st = status::kConnectAuthRequired.with_dnr();
    } else if (controller_->is_discovery()) {
        st = parse_discovery_command(*this, req);
    } else if (qid_ == 0) {
        st = parse_admin_command(*this, req);
    } else {
        st = parse_io_command(*this, req);
    }

    if (st.ok()) {
        const proto::SglDescriptor& sgl = req.sqe.sgl;
        const uint32_t sgl_length = sgl_data_length(sgl);
        if (req.transfer_length > limits_.max_data_transfer) {
            st = fail_at(req, status::kInvalidField, offsetof(proto::Sqe, cdw12));
        } else if (sgl_length != req.transfer_length) {
            st = fail_at(req, status::kSglLengthInvalid, offsetof(proto::Sqe, sgl) + 8);
        } else if (req.transfer_length > 0) {
            bool in_capsule = sgl.type == proto::sgl::kInCapsule;
            if (!in_capsule && !transport_moves(sgl)) {
                st = fail_at(req, status::kSglTypeInvalid, offsetof(proto::Sqe, sgl) + 15);
            } else if (in_capsule && req.direction != DataDirection::HostToController) {
                st = fail_at(req, status::kSglTypeInvalid, offsetof(proto::Sqe, sgl) + 15);
            } else if (in_capsule && (sgl.address != 0 || sgl_length > limits_.in_capsule_data_size)) {
                st = fail_at(req, sgl.address ? status::kSglOffsetInvalid : status::kSglLengthInvalid,
                             offsetof(proto::Sqe, sgl));
            }
        }
    }
    if (!st.ok()) {
        complete(req, st);
        return false;
    }
    if (controller_) controller_->note_activity();
    return true;
}

void QueuePair::execute(plugin::Request& req) { req.execute_fn(req); }

void QueuePair::complete(plugin::Request& req, Status st) {
    req.cqe.cid = req.sqe.cid;
    req.cqe.sqid = qid_;
    req.cqe.sqhd = static_cast<uint16_t>(sq_head_);
    req.cqe.status = st.cqe_status();
    if (!st.ok()) {
        if (log::enabled(log::Level::Debug))
            log::debug("queue {} cid {} opcode {:#04x}: {} ({:#05x})", qid_, req.sqe.cid, req.sqe.opcode,
                       proto::status_name(st), st.value & 0x7ff);
        if (controller_) controller_->add_error(req, qid_, st, req.core_slba, limits_.trtype);
        if (req.core_ns) static_cast<Namespace*>(req.core_ns)->count_error(reactor_id_);
    }
    transport_.queue_response(req);
}

void QueuePair::complete_error(plugin::Request& req, Status st, uint16_t error_location) {
    req.error_location = error_location;
    complete(req, st.with_dnr());
}

void QueuePair::release(plugin::Request& req) {
    if (req.core_ns) {
        static_cast<Namespace*>(req.core_ns)->io_finished(reactor_id_);
        req.core_ns = nullptr;
    }
    if (req.buffer_owner == plugin::BufferOwner::Pool) reactor_.buffers().release(req.data());
    req.buffer_owner = plugin::BufferOwner::None;
    req.iov_count = 0;
}

bool QueuePair::take_data_buffer(plugin::Request& req, uint32_t pool_bytes) {
    runtime::BufferPool& pool = reactor_.buffers();
    size_t from_pool = std::min<size_t>(pool_bytes, req.transfer_length);
    size_t n = 0;
    if (from_pool) {
        n = pool.allocate(from_pool, req.iov_storage);
        if (n == 0) return false;
    }
    size_t zeroes = req.transfer_length - from_pool;
    if (zeroes) {
        size_t z = runtime::BufferPool::zero_iovecs(zeroes, req.iov_storage.subspan(n));
        if (z == 0) {
            // Too few iovec slots for the zero tail: take it all from the pool.
            pool.release(req.iov_storage.first(n));
            n = pool.allocate(req.transfer_length, req.iov_storage);
            if (n == 0) return false;
        } else {
            n += z;
        }
    }
    req.iov_count = static_cast<uint32_t>(n);
    req.buffer_owner = plugin::BufferOwner::Pool;
    return true;
}

void QueuePair::with_data_buffer(plugin::Request& req, void (*then)(plugin::Request&), uint32_t pool_bytes) {
    if (req.transfer_length == 0) {
        then(req);
        return;
    }
    if (waiting_for_buffers_.empty() && take_data_buffer(req, pool_bytes)) {
        then(req);
        return;
    }
    waiting_for_buffers_.push_back({&req, then, pool_bytes});
    reactor_.buffers().wait(*this);
}

void QueuePair::on_buffers_available() {
    while (!waiting_for_buffers_.empty()) {
        WaitingForBuffer w = waiting_for_buffers_.front();
        if (!take_data_buffer(*w.req, w.pool_bytes)) {
            reactor_.buffers().wait(*this);
            return;
        }
        waiting_for_buffers_.pop_front();
        w.then(*w.req);
    }
}

void QueuePair::on_close_begin() {
    closing_ = true;
    reactor_.buffers().cancel_wait(*this);
    auto waiting = std::move(waiting_for_buffers_);
    waiting_for_buffers_.clear();
    for (auto& w : waiting) complete(*w.req, status::kAbortSqDeleted);
    if (controller_ && qid_ == 0) controller_->abort_parked_aers();
    if (auth_.working) {
        // The host left (or timed out) while a worker ran its authentication.
        log::debug("queue {} from {}: closed while its authentication was being computed", qid_, peer_address());
        auth_.token.reset();
        complete(*std::exchange(auth_.working, nullptr), status::kAbortSqDeleted);
    }
    if (auto parked = admission_.cancel()) {
        // The host left while its Connect waited for the admission hook.
        log::info("host '{}' ({}) left while its Connect waited for admission to '{}'", parked->hostnqn,
                  peer_address(), parked->subnqn);
        target_.controllers().release_reservation(parked->subnqn, parked->cntlid);
        complete(*parked->req, status::kAbortSqDeleted);
    }
}

void QueuePair::on_closed() {
    if (!controller_) return;
    if (qid_ == 0) {
        controller_->detach_admin_queue();
    } else {
        controller_->detach_io_queue(qid_, *this);
    }
    controller_.reset();
}

}  // namespace nvmfd::target
