// A simulated NVMe controller's register file, for the PCIe backend's unit
// tests: CC/CSTS transitions that take a number of CSTS reads (so the
// driver must wait), a controller that never gets ready or turns fatal, one
// that is gone (every register reads all ones), and a record of what the
// driver wrote and of what it did that a strict drive would not accept.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "plugins/backend_pcie/nvme_regs.hpp"
#include "plugins/backend_pcie/register_access.hpp"

namespace nvmfd::test {

namespace regs = plugins::pcie::regs;

struct SimRegisters final : plugins::pcie::RegisterAccess {
    // CAP: MQES 2047, CQR, TO 2 (1 s), DSTRD 0, CSS NVM, MPSMIN 4 KiB, MPSMAX 64 KiB (QEMU's shape).
    uint64_t cap = 2047 | 1ull << 16 | 2ull << 24 | 1ull << 37 | 0ull << 48 | 4ull << 52;
    uint32_t cc = 0, csts = 0, aqa = 0;
    uint64_t asq = 0, acq = 0;
    int transition_reads = 3;   // CSTS reads before RDY/SHST follow CC
    bool never_ready = false;
    bool fatal_on_enable = false;
    bool gone = false;
    std::vector<std::string> violations;   // what a strict controller would refuse
    std::vector<std::pair<uint32_t, uint32_t>> writes;

    uint32_t read32(uint32_t off) override {
        if (gone) return regs::kAllOnes;
        switch (off) {
        case regs::kCap: return uint32_t(cap);
        case regs::kCap + 4: return uint32_t(cap >> 32);
        case regs::kCc: return cc;
        case regs::kCsts: step(); return csts;
        case regs::kAqa: return aqa;
        default: return 0;
        }
    }
    void write32(uint32_t off, uint32_t v) override {
        writes.emplace_back(off, v);
        if (gone) return;
        const bool enabled = cc & regs::cc::kEnable;
        switch (off) {
        case regs::kCc:
            if (enabled && !(v & regs::cc::kEnable) && !(csts & regs::csts::kReady) && !(csts & regs::csts::kFatal))
                violations.push_back("CC.EN cleared while the controller was still becoming ready");
            if (!enabled && (v & regs::cc::kEnable) && (aqa == 0 || asq == 0 || acq == 0))
                violations.push_back("enabled without admin queues");
            cc = v;
            pending = transition_reads;
            break;
        case regs::kAqa: if (enabled) violations.push_back("AQA written while enabled"); aqa = v; break;
        case regs::kAsq: if (enabled) violations.push_back("ASQ written while enabled"); asq = (asq & ~0xffffffffull) | v; break;
        case regs::kAsq + 4: asq = (asq & 0xffffffffull) | uint64_t(v) << 32; break;
        case regs::kAcq: if (enabled) violations.push_back("ACQ written while enabled"); acq = (acq & ~0xffffffffull) | v; break;
        case regs::kAcq + 4: acq = (acq & 0xffffffffull) | uint64_t(v) << 32; break;
        default: break;
        }
    }

    // As a previous owner may leave it: enabled, still becoming ready.
    void left_enabling() {
        cc = regs::cc::kEnable;
        csts = 0;
        pending = transition_reads;
    }

private:
    int pending = 0;
    // CSTS follows CC after `transition_reads` reads.
    void step() {
        if (pending > 0 && --pending > 0) return;
        if (cc & regs::cc::kEnable) {
            if (fatal_on_enable) csts |= regs::csts::kFatal;
            else if (!never_ready) csts |= regs::csts::kReady;
            if ((cc & regs::cc::kShutdownMask) == regs::cc::kShutdownNormal)
                csts = (csts & ~regs::csts::kShutdownMask) | regs::csts::kShutdownComplete;
        } else {
            csts &= ~(regs::csts::kReady | regs::csts::kShutdownMask);
        }
    }
};

// Time that moves only when the driver sleeps.
struct SimClock final : plugins::pcie::WaitClock {
    std::chrono::steady_clock::time_point t{};
    std::chrono::microseconds slept{0};
    std::chrono::steady_clock::time_point now() override { return t; }
    void sleep(std::chrono::microseconds d) override {
        t += d;
        slept += d;
    }
};

}  // namespace nvmfd::test
