// libFuzzer target: the command decoder and executor of core/target for
// every opcode. Whole SQEs (with their data) go through QueuePair::prepare
// and execute, the code a transport calls, against the fuzz model's
// subsystem with malloc namespaces. Opcodes and fabrics command types are
// never listed here: a command the core learns (Authentication Send and
// Receive...) is reached through the same dispatch.
//
// Input: one prelude byte, then records of
//   [queue: 1 byte][SQE: 64 bytes][data length: 2 bytes LE][data]
// prelude % 4: 0 nothing (the fuzzer must Connect itself), 1 an admin
// queue connected and enabled (CC.EN = 1), 2 that plus I/O queue 1,
// 3 a discovery controller connected and enabled. Bit 0 of a record's
// queue byte picks the I/O queue where there is one.
#include <cstdint>
#include <cstring>
#include <span>

#include "core/proto/fabrics.hpp"
#include "tests/fuzz/fake_queue.hpp"
#include "tests/fuzz/fuzz_model.hpp"
#include "tests/fuzz/host_session.hpp"

using namespace nvmfd;

namespace {

// Connect; returns the controller ID the target gave (0xffff if refused).
uint16_t connect(fuzz::FakeQueue& q, const char* subnqn, uint16_t qid, uint16_t cntlid) {
    auto c = fuzz::connect_command(subnqn, qid, cntlid);
    q.submit(c.sqe, std::span(reinterpret_cast<const uint8_t*>(c.data.data()), c.data.size()));
    const auto& done = q.last_completion();
    return done && (done->status >> 1) == 0 ? static_cast<uint16_t>(done->dw0) : 0xffff;
}

void enable(fuzz::FakeQueue& q) { q.submit(fuzz::enable_command(), {}); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    auto& model = fuzz::FuzzModel::get();
    model.run([&] {
        fuzz::FakeQueue admin(model.target(), model.reactor(), fuzz::kPortId);
        std::unique_ptr<fuzz::FakeQueue> io;
        switch (data[0] % 4) {
        case 1:
        case 2: {
            uint16_t cntlid = connect(admin, fuzz::kSubsystemNqn, 0, 0xffff);
            enable(admin);
            if (data[0] % 4 == 2 && cntlid != 0xffff) {
                io = std::make_unique<fuzz::FakeQueue>(model.target(), model.reactor(), fuzz::kPortId);
                connect(*io, fuzz::kSubsystemNqn, 1, cntlid);
            }
            break;
        }
        case 3:
            connect(admin, proto::kDiscoveryNqn, 0, 0xffff);
            enable(admin);
            break;
        default: break;
        }
        size_t at = 1;
        while (size - at >= 1 + sizeof(proto::Sqe)) {
            bool to_io = data[at] & 1;
            proto::Sqe sqe;
            std::memcpy(&sqe, data + at + 1, sizeof sqe);
            at += 1 + sizeof sqe;
            size_t dlen = 0;
            if (size - at >= 2) {
                dlen = std::min<size_t>(data[at] | (data[at + 1] << 8), size - at - 2);
                at += 2;
            }
            std::span<const uint8_t> payload(data + at, dlen);
            at += dlen;
            (to_io && io ? *io : admin).submit(sqe, payload);
        }
        // I/O queues go first, as when a host disconnects.
        io.reset();
        admin.shut_down();
    });
    return 0;
}
