// The queue pair's rings against a simulated controller (issue 13,
// acceptance 3): wrap-around, phase tags, SQ heads from completions, full
// rings on either side, doorbells written once per batch.
#include <doctest/doctest.h>

#include <deque>
#include <random>
#include <set>

#include "plugins/backend_pcie/queue_ring.hpp"
#include "tests/backend_pcie/sim_controller.hpp"

using nvmfd::plugins::pcie::CompletionQueue;
using nvmfd::plugins::pcie::SubmissionQueue;
using nvmfd::test::SimQueuePair;
namespace proto = nvmfd::proto;

namespace {

proto::Sqe command(uint16_t cid) {
    proto::Sqe s{};
    s.opcode = 0x02;  // read
    s.cid = cid;
    s.cdw10 = 0x1000u + cid;
    return s;
}

}  // namespace

TEST_CASE("queue rings: many passes through small rings, every command completed once, in order, phase flipping") {
    for (uint16_t entries : {2, 3, 8, 64}) {
        SimQueuePair dev(entries);
        SubmissionQueue sq(dev.sq.data(), entries, &dev.sq_doorbell);
        CompletionQueue cq(dev.cq.data(), entries, &dev.cq_doorbell);
        std::mt19937 rng(entries);
        std::deque<uint16_t> outstanding;
        uint16_t next_cid = 0;
        size_t completed = 0, phase_flips = 0;
        bool last_phase = cq.phase();
        while (completed < 20u * entries) {
            // Submit a batch of random size, as much as the SQ takes.
            size_t batch = std::uniform_int_distribution<size_t>(0, entries)(rng);
            for (size_t i = 0; i < batch && !sq.full(); ++i) {
                sq.push(command(next_cid));
                outstanding.push_back(next_cid++);
            }
            sq.ring();
            // The drive takes some.
            dev.run(std::uniform_int_distribution<size_t>(0, entries)(rng));
            // Reap what is there.
            while (const proto::Cqe* c = cq.peek()) {
                REQUIRE_FALSE(outstanding.empty());
                CHECK(c->cid == outstanding.front());
                CHECK(c->dw0 == 0x1000u + c->cid);
                outstanding.pop_front();
                sq.head_moved(c->sqhd);
                cq.pop();
                ++completed;
            }
            cq.ring();
            if (cq.phase() != last_phase) ++phase_flips, last_phase = cq.phase();
            CHECK(dev.cq_doorbell == cq.head());
            CHECK(dev.sq_doorbell == sq.tail());
        }
        CHECK(phase_flips >= 19);  // one per pass through the CQ
        CHECK(dev.taken.size() >= completed);
    }
}

TEST_CASE("queue rings: stale entries of the previous pass are not taken for new ones") {
    SimQueuePair dev(4);
    SubmissionQueue sq(dev.sq.data(), 4, &dev.sq_doorbell);
    CompletionQueue cq(dev.cq.data(), 4, &dev.cq_doorbell);
    CHECK(cq.peek() == nullptr);  // zeroed memory has phase 0: nothing yet
    // One whole pass: 3 commands, then 3 more (the ring holds 3 at a time).
    for (int round = 0; round < 2; ++round) {
        for (uint16_t i = 0; i < 3; ++i) sq.push(command(uint16_t(round * 3 + i)));
        sq.ring();
        CHECK(dev.run() == 3);
        for (int i = 0; i < 3; ++i) {
            const proto::Cqe* c = cq.peek();
            REQUIRE(c);
            CHECK(c->cid == round * 3 + i);
            sq.head_moved(c->sqhd);
            cq.pop();
        }
        // What lies at the head now is last pass's entry (or zeroed memory): not new.
        CHECK(cq.peek() == nullptr);
        cq.ring();
    }
    CHECK(cq.phase() == false);  // 6 entries through a ring of 4: the second pass
}

TEST_CASE("queue rings: a full SQ waits for SQHD; a full CQ holds the drive until the CQ doorbell") {
    SimQueuePair dev(4);
    SubmissionQueue sq(dev.sq.data(), 4, &dev.sq_doorbell);
    CompletionQueue cq(dev.cq.data(), 4, &dev.cq_doorbell);
    for (uint16_t i = 0; i < 3; ++i) sq.push(command(i));
    CHECK(sq.full());
    sq.ring();
    CHECK(dev.run() == 3);
    CHECK(sq.full());  // the driver has not seen SQHD yet
    // The CQ is full for the drive (3 of 4) until the driver rings it.
    for (uint16_t i = 0; i < 3; ++i) {
        const proto::Cqe* c = cq.peek();
        REQUIRE(c);
        sq.head_moved(c->sqhd);
        cq.pop();
        CHECK(sq.free_slots() == i + 1);  // each SQHD frees what the drive took before it
    }
    for (uint16_t i = 3; i < 6; ++i) sq.push(command(i));
    sq.ring();
    CHECK(dev.run() == 0);  // CQ doorbell still 0: no room
    cq.ring();
    CHECK(dev.run() == 3);
}

TEST_CASE("queue rings: doorbells are written once per batch, not per command") {
    struct Db {
        volatile uint32_t v = 0;
    } sqdb, cqdb;
    std::vector<proto::Sqe> sqmem(16);
    std::vector<proto::Cqe> cqmem(16);
    SubmissionQueue sq(sqmem.data(), 16, &sqdb.v);
    for (uint16_t i = 0; i < 10; ++i) sq.push(command(i));
    CHECK(sqdb.v == 0);  // nothing until ring()
    sq.ring();
    CHECK(sqdb.v == 10);
    sqdb.v = 777;  // had ring() written again without a new entry, this would be overwritten
    sq.ring();
    CHECK(sqdb.v == 777);
    CompletionQueue cq(cqmem.data(), 16, &cqdb.v);
    cqdb.v = 555;
    cq.ring();  // nothing popped: no write
    CHECK(cqdb.v == 555);
}

TEST_CASE("queue rings: a completion's status reaches the driver with the phase tag apart") {
    SimQueuePair dev(8);
    dev.status_for = [](const proto::Sqe& s) { return s.cid == 1 ? uint16_t(0x0281) : uint16_t(0); };  // SCT 2, SC 0x81
    SubmissionQueue sq(dev.sq.data(), 8, &dev.sq_doorbell);
    CompletionQueue cq(dev.cq.data(), 8, &dev.cq_doorbell);
    sq.push(command(0));
    sq.push(command(1));
    sq.ring();
    dev.run();
    std::set<uint16_t> failed;
    while (const proto::Cqe* c = cq.peek()) {
        if (c->status >> 1) failed.insert(c->cid);
        CHECK((c->status >> 1) == (c->cid == 1 ? 0x0281 : 0));
        cq.pop();
    }
    CHECK(failed == std::set<uint16_t>{1});
}
