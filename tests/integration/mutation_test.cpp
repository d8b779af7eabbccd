// A mutation storm against the NVMe/TCP receive path: a valid session
// (ICReq, admin Connect, property writes, Identify, an I/O queue Connect,
// writes in-capsule and through R2T, reads) is sent with a few random bytes
// changed, hundreds of times. Whatever arrives, nvmfd must answer with a
// status or a termination request, never crash or hang, and keep serving
// the well-behaved host next to it. Under ASan in CI this is a small fuzzer.
#include <doctest/doctest.h>

#include <optional>
#include <random>
#include <vector>

#include "tests/integration/nvmfd_process.hpp"
#include "tools/host/commands.hpp"
#include "tools/host/controller.hpp"
#include "tools/host/errors.hpp"
#include "tools/host/io_queue.hpp"
#include "tools/host/pdu_build.hpp"
#include "tools/host/raw_connection.hpp"

using namespace nvmfd;
using namespace nvmfd::host;
using namespace std::chrono_literals;
using testing::NvmfdProcess;
namespace tcp = proto::tcp;

namespace {

proto::Sqe with_sgl(proto::Sqe sqe, uint8_t type, size_t len, uint16_t cid) {
    sqe.cid = cid;
    sqe.sgl = {};
    sqe.sgl.type = type;
    sqe.sgl.length = static_cast<uint32_t>(len);
    return sqe;
}

struct Session {
    std::vector<std::byte> bytes;
    std::vector<size_t> pdu_starts;  // where each PDU begins: headers are where mutations matter most
};

void append(Session& out, const std::vector<std::byte>& pdu) {
    out.pdu_starts.push_back(out.bytes.size());
    out.bytes.insert(out.bytes.end(), pdu.begin(), pdu.end());
}

// The PDUs of one plausible session; admin queue when cntlid is 0xffff,
// otherwise I/O queue 1 of that controller.
Session session_bytes(bool digests, uint16_t cntlid) {
    TransportOptions asked;
    asked.header_digest = asked.data_digest = digests;
    TransportParams p;
    p.header_digest = p.data_digest = digests;
    p.maxh2cdata = 128 * 1024;
    Session out;
    append(out, pdu::icreq_bytes(asked));
    std::array<uint8_t, 16> hostid{9, 9, 9};
    bool admin = cntlid == 0xffff;
    auto data = cmd::connect_data(hostid, cntlid, NvmfdProcess::default_nqn(),
                                  "nqn.2014-08.org.nvmexpress:uuid:00000000-0000-4000-8000-00000000f022");
    append(out, pdu::capsule_bytes(with_sgl(cmd::connect({.qid = uint16_t(admin ? 0 : 1), .sqsize = 15}),
                                            proto::sgl::kInCapsule, sizeof data, 1),
                                   pdu::as_bytes_of(data), p));
    if (admin) {
        uint32_t cc = (6u << 16) | (4u << 20) | 1u;
        append(out, pdu::capsule_bytes(with_sgl(cmd::property_set(proto::property::kCc, cc, cmd::PropertySize::Four),
                                                proto::sgl::kTransport, 0, 2),
                                       {}, p));
        append(out, pdu::capsule_bytes(with_sgl(cmd::identify(proto::IdentifyCns::Controller),
                                                proto::sgl::kTransport, 4096, 3),
                                       {}, p));
        append(out, pdu::capsule_bytes(with_sgl(cmd::get_log_page(0x0c, 4096), proto::sgl::kTransport, 4096, 4), {}, p));
        append(out, pdu::capsule_bytes(with_sgl(cmd::set_features(0x07, 0x00030003), proto::sgl::kTransport, 0, 5), {}, p));
    } else {
        std::vector<std::byte> block(4096, std::byte{0x5a});
        append(out, pdu::capsule_bytes(with_sgl(cmd::write(1, 0, 8), proto::sgl::kInCapsule, 4096, 2), block, p));
        append(out, pdu::capsule_bytes(with_sgl(cmd::write(1, 8, 8), proto::sgl::kTransport, 4096, 3), {}, p));
        // The H2CData a target would ask for with TTAG 1 (the first slot).
        append(out, pdu::h2c_data_bytes({.cccid = 3, .ttag = 1, .datao = 0, .last = true}, block, p));
        append(out, pdu::capsule_bytes(with_sgl(cmd::read(1, 0, 8), proto::sgl::kTransport, 4096, 4), {}, p));
        append(out, pdu::capsule_bytes(with_sgl(cmd::dataset_management(1, 1), proto::sgl::kInCapsule, 16, 5),
                                       std::vector<std::byte>(16), p));
    }
    return out;
}

}  // namespace

TEST_CASE("mutated sessions never take nvmfd down") {
    NvmfdProcess d;
    ControllerOptions o;
    o.subnqn = NvmfdProcess::default_nqn();
    o.kato_ms = 60000;
    Controller good = Controller::connect({"127.0.0.1", d.port()}, o);
    good.request_io_queues(1);
    IoQueue io = good.connect_io_queue(1, 8);
    std::vector<std::byte> mine(4096, std::byte{0x42});
    REQUIRE(io.write(1, 1000, 8, mine).ok());

    std::mt19937 rng(20261122);
    int closed = 0, quiet = 0;
    int iterations = 400;
    for (int i = 0; i < iterations; ++i) {
        bool digests = i % 3 == 0;
        bool admin = i % 2 == 0;
        Session s = session_bytes(digests, admin ? 0xffff : good.cntlid());
        auto& bytes = s.bytes;
        int flips = 1 + int(rng() % 4);
        for (int f = 0; f < flips; ++f) {
            // Mostly in a PDU header (the first 80 bytes of a PDU), sometimes anywhere.
            size_t at = rng() % 4 ? s.pdu_starts[rng() % s.pdu_starts.size()] + rng() % 80 : rng() % bytes.size();
            bytes[std::min(at, bytes.size() - 1)] ^= std::byte(1u << (rng() % 8));
        }
        if (rng() % 5 == 0) bytes.resize(rng() % bytes.size());  // cut short, too
        std::optional<RawConnection> opened;
        try {
            opened.emplace(RawConnection::open({"127.0.0.1", d.port()}));
        } catch (const host::Error& e) {
            bool alive = d.running();
            std::string log = d.log();
            FAIL("session " << i << ": " << e.what() << "; nvmfd " << (alive ? "still runs" : "is gone")
                            << "; the end of its log:\n"
                            << log.substr(log.size() > 16000 ? log.size() - 16000 : 0));
        }
        RawConnection& r = *opened;
        try {
            r.send(bytes, 2000ms);
            // Read whatever comes back until the target closes or goes quiet.
            bool ended = false;
            for (int k = 0; k < 64 && !ended; ++k) ended = r.receive_some(65536, 60ms).empty();
            ++(ended ? closed : quiet);
        } catch (const host::TimeoutError&) {
            ++quiet;  // waiting for the rest of a PDU the mutation made longer
        } catch (const host::Error&) {
            ++closed;  // reset
        }
        if (i % 50 == 49) REQUIRE(d.running());
    }
    REQUIRE(d.running());
    MESSAGE(iterations << " mutated sessions: " << closed << " closed by the target, " << quiet << " left waiting");
    CHECK(closed > iterations / 4);  // the mutations do reach the checks
    std::vector<std::byte> back(4096);
    CHECK(io.read(1, 1000, 8, back).ok());
    CHECK(back == mine);
    CHECK(good.keep_alive().ok());
}
