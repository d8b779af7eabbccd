// How the PCIe backend reads and writes a controller's registers: BAR0
// mapped through VFIO, or a simulated controller's register file in tests.
#pragma once

#include <chrono>
#include <cstdint>

namespace nvmfd::plugins::pcie {

class RegisterAccess {
public:
    virtual ~RegisterAccess() = default;
    virtual uint32_t read32(uint32_t offset) = 0;
    virtual void write32(uint32_t offset, uint32_t value) = 0;
    // 64-bit registers (CAP, ASQ, ACQ) as two 32-bit accesses, low half first.
    uint64_t read64(uint32_t offset) { return read32(offset) | uint64_t(read32(offset + 4)) << 32; }
    void write64(uint32_t offset, uint64_t value) {
        write32(offset, uint32_t(value));
        write32(offset + 4, uint32_t(value >> 32));
    }
};

// Time for waits on the controller: the real clock, or the test's.
class WaitClock {
public:
    virtual ~WaitClock() = default;
    virtual std::chrono::steady_clock::time_point now() = 0;
    virtual void sleep(std::chrono::microseconds d) = 0;
};

}  // namespace nvmfd::plugins::pcie
