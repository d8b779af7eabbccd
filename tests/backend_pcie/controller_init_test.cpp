// Bringing a controller up and down (issue 13): the order a strict drive
// needs, waits bounded by CAP.TO, and what an admin is told when the drive
// misbehaves or is gone. Against a simulated register file.
#include <doctest/doctest.h>

#include <algorithm>

#include "plugins/backend_pcie/controller_init.hpp"
#include "tests/backend_pcie/sim_registers.hpp"

using namespace nvmfd::plugins::pcie;
using nvmfd::test::SimClock;
using nvmfd::test::SimRegisters;
namespace regs = nvmfd::plugins::pcie::regs;

namespace {
const AdminQueueMemory kAdmin{0x10000, 0x20000, 32};

size_t index_of_write(const SimRegisters& s, uint32_t off, size_t from = 0) {
    for (size_t i = from; i < s.writes.size(); ++i)
        if (s.writes[i].first == off) return i;
    FAIL("no write to " << off);
    return 0;
}
}  // namespace

TEST_CASE("controller bring-up: admin queues while disabled, then enabled with nvmfd's page and entry sizes") {
    SimRegisters sim;
    SimClock clock;
    auto cap = enable_controller(sim, clock, kAdmin);
    REQUIRE_MESSAGE(cap, cap.error().describe());
    CHECK(sim.violations.empty());
    CHECK((sim.csts & regs::csts::kReady));
    CHECK(sim.aqa == (31u | 31u << 16));
    CHECK(sim.asq == kAdmin.sq_iova);
    CHECK(sim.acq == kAdmin.cq_iova);
    // CC: EN, MPS 0 (4 KiB), CSS NVM, IOSQES 6, IOCQES 4.
    CHECK(sim.cc == (1u | 6u << 16 | 4u << 20));
    CHECK(index_of_write(sim, regs::kAqa) < index_of_write(sim, regs::kCc));
    CHECK(cap->max_queue_entries() == 2048);
    CHECK(cap->doorbell_stride() == 4);
    CHECK(cap->timeout_ms() == 1000);
    CHECK(regs::sq_tail_doorbell(1, 4) == 0x1008);
    CHECK(regs::cq_head_doorbell(1, 4) == 0x100c);
    CHECK(regs::cq_head_doorbell(0, 16) == 0x1010);
}

TEST_CASE("controller bring-up: an enabled controller is reset first, and one still becoming ready is let finish") {
    SimRegisters sim;
    SimClock clock;
    sim.left_enabling();  // a previous owner left it enabled, not yet ready
    sim.aqa = 1;
    sim.asq = sim.acq = 0x5000;
    auto cap = enable_controller(sim, clock, kAdmin);
    REQUIRE_MESSAGE(cap, cap.error().describe());
    CHECK(sim.violations.empty());
    const size_t disable = index_of_write(sim, regs::kCc);
    CHECK((sim.writes[disable].second & regs::cc::kEnable) == 0);
    CHECK(disable < index_of_write(sim, regs::kAqa));
}

TEST_CASE("controller bring-up: what goes wrong is said, within CAP.TO") {
    SUBCASE("never ready: a timeout after CAP.TO, not a hang") {
        SimRegisters sim;
        SimClock clock;
        sim.never_ready = true;
        auto r = enable_controller(sim, clock, kAdmin);
        REQUIRE_FALSE(r);
        CHECK(r.error().message.find("did not finish becoming ready (CSTS.RDY = 1) within 1000 ms") != std::string::npos);
        CHECK(clock.slept >= std::chrono::milliseconds(1000));
        CHECK(clock.slept < std::chrono::milliseconds(1100));
    }
    SUBCASE("a fatal status") {
        SimRegisters sim;
        SimClock clock;
        sim.fatal_on_enable = true;
        auto r = enable_controller(sim, clock, kAdmin);
        REQUIRE_FALSE(r);
        CHECK(r.error().message.find("fatal status (CSTS.CFS)") != std::string::npos);
    }
    SUBCASE("gone: registers read all ones") {
        SimRegisters sim;
        SimClock clock;
        sim.gone = true;
        auto r = enable_controller(sim, clock, kAdmin);
        REQUIRE_FALSE(r);
        CHECK(r.error().message.find("all ones") != std::string::npos);
        CHECK(r.error().field == "device");
    }
    SUBCASE("no NVM command set, or a page size it cannot take") {
        SimRegisters sim;
        SimClock clock;
        sim.cap &= ~(1ull << 37);
        auto r = enable_controller(sim, clock, kAdmin);
        REQUIRE_FALSE(r);
        CHECK(r.error().code == nvmfd::ErrorCode::NotSupported);
        SimRegisters big;
        big.cap |= 1ull << 48;  // MPSMIN 8 KiB
        r = enable_controller(big, clock, kAdmin);
        REQUIRE_FALSE(r);
        CHECK(r.error().message.find("8192") != std::string::npos);
    }
    SUBCASE("admin queues larger than MQES allows") {
        SimRegisters sim;
        SimClock clock;
        sim.cap = (sim.cap & ~0xffffull) | 15;  // MQES 15: 16 entries
        auto r = enable_controller(sim, clock, kAdmin);
        REQUIRE_FALSE(r);
        CHECK(r.error().field == "queue_depth");
        CHECK(sim.writes.empty());  // refused before touching the controller
    }
}

TEST_CASE("controller shutdown: normal shutdown waited for; a disabled controller needs none") {
    SimRegisters sim;
    SimClock clock;
    REQUIRE(enable_controller(sim, clock, kAdmin));
    auto r = shut_down_controller(sim, clock, std::chrono::milliseconds(5000));
    REQUIRE_MESSAGE(r, r.error().describe());
    CHECK((sim.cc & regs::cc::kShutdownMask) == regs::cc::kShutdownNormal);
    CHECK((sim.csts & regs::csts::kShutdownMask) == regs::csts::kShutdownComplete);
    SimRegisters off;
    CHECK(shut_down_controller(off, clock, std::chrono::milliseconds(5000)));
    CHECK(off.writes.empty());
    // A reset (disable) after use clears RDY.
    SimRegisters again;
    REQUIRE(enable_controller(again, clock, kAdmin));
    REQUIRE(disable_controller(again, clock, regs::Cap{again.cap}));
    CHECK((again.csts & regs::csts::kReady) == 0);
    CHECK(again.violations.empty());
}
