#include "plugins/backend_pcie/controller_init.hpp"

#include <fmt/format.h>

namespace nvmfd::plugins::pcie {
namespace {

using std::chrono::milliseconds;

nvmfd::unexpected<Error> gone() {
    return make_error(ErrorCode::Io, "the controller's registers read all ones: the device is gone or was reset away",
                      "device");
}

// Polls CSTS until `want(csts)`, a fatal status, removal, or the deadline.
Result<uint32_t> wait_csts(RegisterAccess& r, WaitClock& clock, milliseconds timeout, const char* what,
                           bool (*want)(uint32_t)) {
    const auto deadline = clock.now() + timeout;
    for (;;) {
        const uint32_t csts = r.read32(regs::kCsts);
        if (csts == regs::kAllOnes) return gone();
        if (want(csts)) return csts;
        if (csts & regs::csts::kFatal)
            return make_error(ErrorCode::Io, fmt::format("the controller reported a fatal status (CSTS.CFS) while {}", what),
                              "device");
        if (clock.now() >= deadline)
            return make_error(ErrorCode::Io,
                              fmt::format("the controller did not finish {} within {} ms (CSTS {:#x})", what,
                                          timeout.count(), csts),
                              "device");
        clock.sleep(std::chrono::microseconds(1000));
    }
}

bool ready(uint32_t csts) { return csts & regs::csts::kReady; }
bool not_ready(uint32_t csts) { return !(csts & regs::csts::kReady); }
bool shut_down(uint32_t csts) { return (csts & regs::csts::kShutdownMask) == regs::csts::kShutdownComplete; }

// CAP.TO of 0 would be no time at all: the spec's worst case is 127.5 s;
// take at least 500 ms.
milliseconds timeout_of(const regs::Cap& cap) { return milliseconds(std::max<uint32_t>(cap.timeout_ms(), 500)); }

}  // namespace

Result<regs::Cap> read_capabilities(RegisterAccess& r, uint32_t page_size) {
    regs::Cap cap{r.read64(regs::kCap)};
    if (cap.raw == ~uint64_t(0)) return gone();
    if (!cap.nvm_command_set())
        return make_error(ErrorCode::NotSupported, "the controller does not support the NVM command set (CAP.CSS)",
                          "device");
    if (page_size < cap.min_page_size() || page_size > cap.max_page_size())
        return make_error(ErrorCode::NotSupported,
                          fmt::format("the controller's memory page sizes are {} to {} bytes, nvmfd uses {}",
                                      cap.min_page_size(), cap.max_page_size(), page_size),
                          "device");
    return cap;
}

Result<void> disable_controller(RegisterAccess& r, WaitClock& clock, const regs::Cap& cap) {
    const uint32_t cc = r.read32(regs::kCc);
    if (cc == regs::kAllOnes) return gone();
    if (cc & regs::cc::kEnable) {
        // Clearing EN while the controller is still becoming ready is
        // undefined behaviour in the spec: let it get there first.
        const uint32_t csts = r.read32(regs::kCsts);
        if (csts == regs::kAllOnes) return gone();
        if (!(csts & regs::csts::kReady) && !(csts & regs::csts::kFatal)) {
            auto w = wait_csts(r, clock, timeout_of(cap), "becoming ready before its reset", ready);
            if (!w) return nvmfd::unexpected(w.error());
        }
        r.write32(regs::kCc, cc & ~regs::cc::kEnable);
    }
    auto w = wait_csts(r, clock, timeout_of(cap), "its reset (CSTS.RDY = 0)", not_ready);
    if (!w) return nvmfd::unexpected(w.error());
    return {};
}

Result<regs::Cap> enable_controller(RegisterAccess& r, WaitClock& clock, const AdminQueueMemory& admin,
                                    uint32_t page_size) {
    auto cap = read_capabilities(r, page_size);
    if (!cap) return cap;
    if (admin.entries < 2 || admin.entries > 4096 || admin.entries > cap->max_queue_entries())
        return make_error(ErrorCode::InvalidArgument,
                          fmt::format("admin queues of {} entries: the controller takes 2 to {}", admin.entries,
                                      std::min<uint32_t>(4096, cap->max_queue_entries())),
                          "queue_depth");
    if ((admin.sq_iova | admin.cq_iova) & (page_size - 1))
        return make_error(ErrorCode::Internal, "the admin queues are not page aligned", "device");
    if (auto d = disable_controller(r, clock, *cap); !d) return nvmfd::unexpected(d.error());
    r.write32(regs::kAqa, regs::aqa(admin.entries, admin.entries));
    r.write64(regs::kAsq, admin.sq_iova);
    r.write64(regs::kAcq, admin.cq_iova);
    r.write32(regs::kCc, regs::cc::configure(page_size));  // configured first, enabled with the same fields
    r.write32(regs::kCc, regs::cc::configure(page_size) | regs::cc::kEnable);
    auto w = wait_csts(r, clock, timeout_of(*cap), "becoming ready (CSTS.RDY = 1)", ready);
    if (!w) return nvmfd::unexpected(w.error());
    return cap;
}

Result<void> shut_down_controller(RegisterAccess& r, WaitClock& clock, milliseconds timeout) {
    const uint32_t cc = r.read32(regs::kCc);
    if (cc == regs::kAllOnes) return gone();
    if (!(cc & regs::cc::kEnable)) return {};  // nothing to shut down
    r.write32(regs::kCc, (cc & ~regs::cc::kShutdownMask) | regs::cc::kShutdownNormal);
    auto w = wait_csts(r, clock, timeout, "its shutdown (CSTS.SHST = complete)", shut_down);
    if (!w) return nvmfd::unexpected(w.error());
    return {};
}

}  // namespace nvmfd::plugins::pcie
