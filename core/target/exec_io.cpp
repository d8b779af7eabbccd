// NVM I/O commands: Read, Write, Flush, Write Zeroes, Dataset Management,
// Compare. This is the fast path: no allocation, no lock, no thread hop;
// the request goes from here to the namespace's per-reactor backend channel
// and completes on the same thread.
#include <cstring>

#include "core/target/ana.hpp"
#include "core/target/exec.hpp"
#include "core/target/queue_pair.hpp"

namespace nvmfd::target {

using plugin::BlockIo;
using plugin::IoOp;
using plugin::IoStatus;
using plugin::Request;
using proto::IoOpcode;
using proto::Status;
namespace status = proto::status;

namespace {

constexpr size_t kNsidOffset = offsetof(proto::Sqe, nsid);
constexpr size_t kCdw10 = offsetof(proto::Sqe, cdw10);
constexpr size_t kCdw12 = offsetof(proto::Sqe, cdw12);
constexpr uint32_t kFua = 1u << 30;
constexpr uint32_t kPrinfoMask = 0xfu << 26;

static_assert(sizeof(plugin::ByteRange) == sizeof(proto::DsmRange), "DSM ranges are converted in place");

Namespace& ns_of(Request& r) { return *static_cast<Namespace*>(r.core_ns); }

Status io_status_to_nvme(const BlockIo& io) {
    switch (io.status) {
    case IoStatus::Ok: return status::kSuccess;
    case IoStatus::InvalidRange: return status::kLbaOutOfRange.with_dnr();
    case IoStatus::ReadError: return status::kUnrecoveredReadError.with_dnr();
    case IoStatus::WriteFault: return status::kWriteFault.with_dnr();
    case IoStatus::NoSpace: return status::kCapacityExceeded.with_dnr();
    case IoStatus::NotSupported: return status::kInvalidOpcode.with_dnr();
    case IoStatus::Aborted: return status::kAbortRequested;
    case IoStatus::Unavailable: return status::kNamespaceNotReady;
    case IoStatus::DeviceStatus: return Status(io.device_status);
    }
    return status::kInternalError;
}

// The NVMe status for a backend's result. The backend's own failures (the
// medium, space, a device that went away; not a bad range or an operation it
// lacks) count as the namespace's backend errors, which policies hear of
// (on_backend_error).
Status backend_result(Request& r, const BlockIo& io) {
    if (io.status != IoStatus::Ok && io.status != IoStatus::InvalidRange && io.status != IoStatus::NotSupported)
        ns_of(r).count_backend_error(QueuePair::of(r).reactor_id());
    return io_status_to_nvme(io);
}

Status ana_status(proto::AnaState s) {
    // Path errors carry no DNR: the host should retry on another path.
    switch (s) {
    case proto::AnaState::Inaccessible: return status::kAnaInaccessible;
    case proto::AnaState::PersistentLoss: return status::kAnaPersistentLoss;
    case proto::AnaState::Change: return status::kAnaTransition;
    default: return status::kSuccess;
    }
}

void start_io(Request& r, IoOp op, uint64_t offset, uint64_t length, void (*done)(BlockIo&)) {
    BlockIo& io = r.io;
    io.op = op;
    io.fua = r.sqe.cdw12 & kFua;
    io.offset = offset;
    io.length = length;
    io.iov = r.iov_storage.data();
    io.iov_count = r.iov_count;
    io.ranges = nullptr;
    io.range_count = 0;
    io.status = IoStatus::Ok;
    io.error_number = 0;
    io.device_status = 0;
    io.on_complete = done;
    io.owner = &r;
}

void submit(Request& r) {
    QueuePair& qp = QueuePair::of(r);
    ns_of(r).channel(qp.reactor()).submit(r.io);
}

void finish(BlockIo& io) {
    Request& r = *static_cast<Request*>(io.owner);
    QueuePair::of(r).complete(r, backend_result(r, io));
}

// --- Read ---
void read_done(BlockIo& io) {
    Request& r = *static_cast<Request*>(io.owner);
    QueuePair& qp = QueuePair::of(r);
    if (io.status == IoStatus::Ok) {
        if (r.buffer_owner == plugin::BufferOwner::None) {
            // The backend lent its own memory (zero copy).
            for (uint32_t i = 0; i < io.iov_count; ++i) r.iov_storage[i] = io.iov[i];
            r.iov_count = io.iov_count;
            r.buffer_owner = plugin::BufferOwner::Backend;
        }
        ns_of(r).count_read(qp.reactor_id(), r.transfer_length);
    }
    qp.complete(r, backend_result(r, io));
}

void submit_read(Request& r) {
    start_io(r, IoOp::Read, r.core_slba * ns_of(r).block_size(), r.transfer_length, read_done);
    submit(r);
}

void execute_read(Request& r) {
    if (ns_of(r).caps().provides_read_buffers) {
        r.iov_count = 0;
        submit_read(r);
    } else {
        QueuePair::of(r).with_data_buffer(r, submit_read);
    }
}

// --- Write ---
void write_done(BlockIo& io) {
    Request& r = *static_cast<Request*>(io.owner);
    QueuePair& qp = QueuePair::of(r);
    if (io.status == IoStatus::Ok) ns_of(r).count_write(qp.reactor_id(), r.transfer_length);
    qp.complete(r, backend_result(r, io));
}

void execute_write(Request& r) {
    start_io(r, IoOp::Write, r.core_slba * ns_of(r).block_size(), r.transfer_length, write_done);
    submit(r);
}

// --- Flush ---
void execute_flush(Request& r) {
    if (!ns_of(r).caps().volatile_write_cache) {
        QueuePair::of(r).complete(r, status::kSuccess);
        return;
    }
    start_io(r, IoOp::Flush, 0, 0, finish);
    submit(r);
}

// --- Write Zeroes ---
void execute_write_zeroes(Request& r) {
    Namespace& ns = ns_of(r);
    start_io(r, IoOp::WriteZeroes, r.core_slba * ns.block_size(), uint64_t(r.core_nlb) * ns.block_size(), finish);
    submit(r);
}

// --- Dataset Management ---
void execute_dsm(Request& r) {
    QueuePair& qp = QueuePair::of(r);
    Namespace& ns = ns_of(r);
    constexpr uint32_t kDeallocate = 1u << 2;
    // Only deallocate does anything; the other attributes are hints.
    if (!(r.sqe.cdw11 & kDeallocate) || !ns.caps().deallocate) {
        qp.complete(r, status::kSuccess);
        return;
    }
    // At most 256 ranges = 4 KiB, which the pool hands out as one page.
    if (r.iov_count != 1) {
        qp.complete(r, status::kInternalError);
        return;
    }
    uint32_t count = (r.sqe.cdw10 & 0xff) + 1;
    auto* base = static_cast<uint8_t*>(r.iov_storage[0].iov_base);
    uint64_t blocks = ns.num_blocks();
    for (uint32_t i = 0; i < count; ++i) {
        proto::DsmRange in;
        std::memcpy(&in, base + i * sizeof in, sizeof in);
        if (in.slba > blocks || in.nlb > blocks - in.slba) {
            r.core_slba = in.slba;
            qp.complete_error(r, status::kLbaOutOfRange, kCdw10);
            return;
        }
        plugin::ByteRange out{in.slba * ns.block_size(), uint64_t(in.nlb) * ns.block_size()};
        std::memcpy(base + i * sizeof out, &out, sizeof out);
    }
    start_io(r, IoOp::Deallocate, 0, 0, finish);
    r.io.ranges = reinterpret_cast<const plugin::ByteRange*>(base);
    r.io.range_count = count;
    submit(r);
}

// --- Compare ---
bool scatter_equal(std::span<const iovec> a, std::span<const iovec> b, size_t len) {
    size_t ai = 0, bi = 0, ao = 0, bo = 0;
    while (len > 0) {
        size_t n = std::min({len, a[ai].iov_len - ao, b[bi].iov_len - bo});
        if (std::memcmp(static_cast<const uint8_t*>(a[ai].iov_base) + ao,
                        static_cast<const uint8_t*>(b[bi].iov_base) + bo, n) != 0)
            return false;
        len -= n;
        ao += n;
        bo += n;
        if (ao == a[ai].iov_len) ++ai, ao = 0;
        if (bo == b[bi].iov_len) ++bi, bo = 0;
    }
    return true;
}

void compare_read_done(BlockIo& io) {
    Request& r = *static_cast<Request*>(io.owner);
    QueuePair& qp = QueuePair::of(r);
    std::span<const iovec> host(r.iov_storage.data(), r.iov_count);
    std::span<const iovec> media(io.iov, io.iov_count);
    Status st = backend_result(r, io);
    if (st.ok() && !scatter_equal(host, media, r.transfer_length)) st = status::kCompareFailure.with_dnr();
    if (io.iov != &io.backend_iov) qp.reactor().buffers().release(media);
    qp.complete(r, st);
}

void execute_compare(Request& r) {
    QueuePair& qp = QueuePair::of(r);
    Namespace& ns = ns_of(r);
    start_io(r, IoOp::Read, r.core_slba * ns.block_size(), r.transfer_length, compare_read_done);
    if (ns.caps().provides_read_buffers) {
        r.io.iov = nullptr;
        r.io.iov_count = 0;
    } else {
        // The media copy goes into the second half of the iovec storage.
        auto spare = r.iov_storage.subspan(r.iov_count);
        size_t n = qp.reactor().buffers().allocate(r.transfer_length, spare);
        if (n == 0) {
            qp.complete(r, status::kNamespaceNotReady);  // transient; the host retries
            return;
        }
        r.io.iov = spare.data();
        r.io.iov_count = static_cast<uint32_t>(n);
    }
    submit(r);
}

// Namespace lookup and the checks every NVM command shares. On success the
// command counts as in flight on the namespace until release().
Status resolve_namespace(QueuePair& qp, Request& r) {
    const Subsystem* sub = qp.subsystem();
    const NamespaceEntry* e = sub ? sub->find_namespace(r.sqe.nsid) : nullptr;
    if (!e || (!e->visible_to.empty() && !e->visible_for(qp.controller()->identity().hostnqn)))
        return fail_at(r, status::kInvalidNamespace, kNsidOffset);
    const Port* port = qp.port();
    Status ana = port ? ana_status(port->ana_state(e->ana_group)) : status::kAnaInaccessible;
    if (!ana.ok()) return ana;
    r.core_ns = e->ns.get();
    e->ns->io_started(qp.reactor_id());
    return status::kSuccess;
}

Status parse_rw(Request& r, void (*fn)(Request&), proto::DataDirection dir) {
    Namespace& ns = ns_of(r);
    uint64_t slba = uint64_t(r.sqe.cdw10) | (uint64_t(r.sqe.cdw11) << 32);
    uint32_t nlb = (r.sqe.cdw12 & 0xffff) + 1;
    if (r.sqe.cdw12 & kPrinfoMask) return fail_at(r, status::kInvalidField, kCdw12);  // no protection information
    uint64_t blocks = ns.num_blocks();
    if (slba > blocks || nlb > blocks - slba) {
        r.core_slba = slba;
        return fail_at(r, status::kLbaOutOfRange, kCdw10);
    }
    if (dir == proto::DataDirection::HostToController && fn == execute_write && ns.caps().read_only)
        return fail_at(r, status::kNamespaceWriteProtected, 0);
    r.core_slba = slba;
    r.core_nlb = nlb;
    set_handler(r, fn, dir, nlb * ns.block_size());
    return status::kSuccess;
}

}  // namespace

Status parse_io_command(QueuePair& qp, Request& r) {
    if (!qp.controller()->ready()) return fail_at(r, status::kCommandSequenceError, 0);
    auto op = static_cast<IoOpcode>(r.sqe.opcode);
    switch (op) {
    case IoOpcode::Read:
    case IoOpcode::Write:
    case IoOpcode::Compare:
    case IoOpcode::Flush:
    case IoOpcode::WriteZeroes:
    case IoOpcode::DatasetManagement:
        break;
    default:
        return fail_at(r, status::kInvalidOpcode, 0);
    }
    if (Status st = resolve_namespace(qp, r); !st.ok()) return st;
    switch (op) {
    case IoOpcode::Read: return parse_rw(r, execute_read, proto::DataDirection::ControllerToHost);
    case IoOpcode::Write: return parse_rw(r, execute_write, proto::DataDirection::HostToController);
    case IoOpcode::Compare: return parse_rw(r, execute_compare, proto::DataDirection::HostToController);
    case IoOpcode::Flush:
        set_handler(r, execute_flush, proto::DataDirection::None, 0);
        return status::kSuccess;
    case IoOpcode::WriteZeroes: {
        Namespace& ns = ns_of(r);
        uint64_t slba = uint64_t(r.sqe.cdw10) | (uint64_t(r.sqe.cdw11) << 32);
        uint32_t nlb = (r.sqe.cdw12 & 0xffff) + 1;
        if (slba > ns.num_blocks() || nlb > ns.num_blocks() - slba) {
            r.core_slba = slba;
            return fail_at(r, status::kLbaOutOfRange, kCdw10);
        }
        if (!ns.caps().write_zeroes) return fail_at(r, status::kInvalidOpcode, 0);
        if (ns.caps().read_only) return fail_at(r, status::kNamespaceWriteProtected, 0);
        r.core_slba = slba;
        r.core_nlb = nlb;
        set_handler(r, execute_write_zeroes, proto::DataDirection::None, 0);
        return status::kSuccess;
    }
    case IoOpcode::DatasetManagement: {
        if (ns_of(r).caps().read_only && (r.sqe.cdw11 & (1u << 2)))
            return fail_at(r, status::kNamespaceWriteProtected, 0);
        uint32_t needed = ((r.sqe.cdw10 & 0xff) + 1) * sizeof(proto::DsmRange);
        // Linux always sends room for 256 ranges whatever NR says; accept
        // any length that holds the ranges, as the kernel's nvmet does.
        uint32_t length = needed;
        uint32_t offered = qp.sgl_data_length(r.sqe.sgl);  // a keyed descriptor's key is not length
        if (offered > needed && offered <= 256 * sizeof(proto::DsmRange)) length = offered;
        set_handler(r, execute_dsm, proto::DataDirection::HostToController, length);
        return status::kSuccess;
    }
    default:
        return fail_at(r, status::kInvalidOpcode, 0);
    }
}

}  // namespace nvmfd::target
