// rdma-probe: hostile NVMe/RDMA input the kernel's host never sends, each
// case with the answer the specification (and the kernel's nvmet-rdma)
// gives, and a check after them all that the target still serves.
//
//   rdma-probe ADDR PORT SUBNQN HOSTNQN
//   rdma-probe --hold ADDR PORT SUBNQN HOSTNQN
//
// Prints one line per case; exits 0 when every answer was the expected one.
// --hold connects an admin queue, prints "holding", and waits (up to 5
// minutes) for the target or the device to end it: a live queue for the
// device removal test. Exits 0 when an RDMA CM event ended it.
#include <array>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <random>
#include <string>

#include <fmt/format.h>

#include "core/proto/status.hpp"
#include "tools/host/commands.hpp"
#include "tools/rdma-probe/rdma_client.hpp"

using namespace nvmfd;
using namespace nvmfd::rdma_probe;
using namespace std::chrono_literals;

namespace {

std::string addr, port, subnqn, hostnqn;
int failures = 0;

void report(const std::string& name, bool ok, const std::string& what) {
    std::printf("%-16s %s: %s\n", name.c_str(), ok ? "ok  " : "FAIL", what.c_str());
    std::fflush(stdout);
    if (!ok) ++failures;
}

proto::rdma::CmRequest request(uint16_t recfmt, uint16_t qid, uint16_t hrqsize, uint16_t hsqsize) {
    proto::rdma::CmRequest r{};
    r.recfmt = recfmt;
    r.qid = qid;
    r.hrqsize = hrqsize;
    r.hsqsize = hsqsize;
    return r;
}

// A connect request the target must reject with `expected` (a CM status).
void expect_reject(const std::string& name, const proto::rdma::CmRequest& req, uint16_t expected) {
    RdmaClient c(addr, port);
    auto out = c.connect(req, 5s);
    bool ok = !out.established && out.reject_status == expected;
    report(name, ok,
           fmt::format("{} with status {}, expected {:#04x}", out.event,
                       out.reject_status ? fmt::format("{:#04x}", *out.reject_status) : "none", expected));
}

std::string describe(const CommandOutcome& o) {
    if (!o.cqe) return o.failure;
    auto st = proto::Status::from_cqe(o.cqe->status);
    return fmt::format("status {} (sct {} sc {:#04x}{})", proto::status_name(st), int(st.sct()), st.sc(),
                       st.dnr() ? ", DNR" : "");
}

void expect_status(const std::string& name, RdmaClient& c, proto::Sqe sqe, proto::Status expected) {
    static uint16_t cid = 1;
    sqe.cid = cid++;
    auto out = c.submit(sqe, 10s);
    bool ok = out.cqe && proto::Status::from_cqe(out.cqe->status) == expected && out.cqe->cid == sqe.cid;
    report(name, ok, fmt::format("{}, expected {}", describe(out), proto::status_name(expected)));
}

proto::Sqe with_keyed(proto::Sqe sqe, RdmaClient& c, uint32_t length, uint32_t key_xor = 0) {
    sqe.sgl = proto::keyed_sgl(c.data_address(), length, c.rkey() ^ key_xor);
    return sqe;
}

// CC.EN = 1 (with 64-byte SQEs and 16-byte CQEs): until then the
// controller takes nothing but Fabrics commands.
void enable(const std::string& name, RdmaClient& c) {
    auto sqe = host::cmd::property_set(proto::property::kCc, 0x00460001, host::cmd::PropertySize::Four);
    sqe.sgl = proto::keyed_sgl(0, 0, 0);
    expect_status(name, c, sqe, proto::status::kSuccess);
}

// A well-formed admin queue with Connect done; false (reported) otherwise.
bool admin_queue(const std::string& name, RdmaClient& c) {
    auto out = c.connect(request(0, 0, 32, 31), 5s);
    if (!out.established) {
        report(name, false, fmt::format("a well-formed connect request ended with {}", out.event));
        return false;
    }
    std::array<uint8_t, 16> hostid{};
    std::random_device rd;
    for (auto& b : hostid) b = static_cast<uint8_t>(rd());
    auto data = host::cmd::connect_data(hostid, 0xffff, subnqn, hostnqn);
    std::memcpy(c.data(), &data, sizeof data);
    proto::Sqe sqe = with_keyed(host::cmd::connect({.qid = 0, .sqsize = 31, .kato_ms = 10000}), c, sizeof data);
    expect_status(name, c, sqe, proto::status::kSuccess);
    enable(name + "-enable", c);
    return true;
}

int hold() {
    RdmaClient c(addr, port);
    if (!admin_queue("hold", c)) return 1;
    std::printf("holding\n");
    std::fflush(stdout);
    auto event = c.wait_any_event(5min);
    std::printf("hold: ended by %s\n", event ? ::rdma_event_str(*event) : "nothing within 5 minutes");
    return event ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
    bool holding = argc == 6 && std::strcmp(argv[1], "--hold") == 0;
    if (argc != 5 && !holding) {
        std::fprintf(stderr, "usage: rdma-probe [--hold] ADDR PORT SUBNQN HOSTNQN\n");
        return 2;
    }
    char** args = argv + (holding ? 2 : 1);
    addr = args[0];
    port = args[1];
    subnqn = args[2];
    hostnqn = args[3];
    if (holding) {
        try {
            return hold();
        } catch (const std::exception& e) {
            std::printf("hold: %s\n", e.what());
            return 1;
        }
    }
    namespace st = proto::status;
    using proto::rdma::CmStatus;
    try {
        // Bad private data: each refused at the CM with the spec's status.
        expect_reject("cm-recfmt", request(1, 0, 32, 31), uint16_t(CmStatus::InvalidRecordFormat));
        expect_reject("cm-hsqsize", request(0, 0, 32, 0xffff), uint16_t(CmStatus::InvalidHsqsize));
        expect_reject("cm-hrqsize", request(0, 1, 0, 127), uint16_t(CmStatus::InvalidHrqsize));

        {
            // Commands on a queue with no Connect yet, then bad SGLs after it.
            RdmaClient c(addr, port);
            auto out = c.connect(request(0, 0, 32, 31), 5s);
            report("accept", out.established, out.event);
            if (out.established) {
                auto identify = host::cmd::identify(proto::IdentifyCns::Controller);
                expect_status("before-connect", c, with_keyed(identify, c, 4096), st::kCommandSequenceError);
                std::array<uint8_t, 16> hostid{1, 2, 3};
                auto data = host::cmd::connect_data(hostid, 0xffff, subnqn, hostnqn);
                std::memcpy(c.data(), &data, sizeof data);
                expect_status("connect", c, with_keyed(host::cmd::connect({.kato_ms = 10000}), c, sizeof data),
                              st::kSuccess);
                enable("enable", c);
                expect_status("identify", c, with_keyed(identify, c, 4096), st::kSuccess);
                // A keyed SGL (and transfer) longer than MDTS (1 MiB by default).
                expect_status("over-mdts", c, with_keyed(host::cmd::get_log_page(0x02, 2u << 20), c, 2u << 20),
                              st::kInvalidField);
                expect_status("length-mismatch", c, with_keyed(identify, c, 8192), st::kSglLengthInvalid);
                proto::Sqe tcp_style = identify;
                tcp_style.sgl = proto::SglDescriptor{c.data_address(), 4096, {}, proto::sgl::kTransport};
                expect_status("tcp-descriptor", c, tcp_style, st::kSglTypeInvalid);
                // A key the host never registered: the target's RDMA WRITE
                // fails, and it closes this queue (nothing on it can be trusted).
                auto bad = c.submit(with_keyed(identify, c, 4096, 0x5a5a5a), 10s);
                report("bad-rkey", !bad.cqe, bad.cqe ? "answered: " + describe(bad) : "no response: " + bad.failure);
            }
        }
        {
            // An RDMA WRITE to the target, which never gave this host a key
            // (its registrations allow local access only): the device
            // refuses it, and the target's queue pair fails. Hardware then
            // raises an asynchronous event and nvmfd closes the queue; rxe
            // raises none, so the queue stays until keep-alive or the host
            // leaves. Either way the target serves on (next case).
            RdmaClient c(addr, port);
            if (admin_queue("rogue-write", c)) {
                auto status = c.rdma_write(c.data_address(), 0x5a5a5a, 10s);
                report("rogue-write", status == ::ibv_wc_status_str(IBV_WC_REM_ACCESS_ERR),
                       "the WRITE ended with " + status);
            }
        }
        {
            // The target serves on: a fresh queue connects and works.
            RdmaClient c(addr, port);
            if (admin_queue("still-serving", c))
                expect_status("still-identify", c, with_keyed(host::cmd::identify(proto::IdentifyCns::Controller), c,
                                                              4096),
                              st::kSuccess);
        }
    } catch (const std::exception& e) {
        report("probe", false, e.what());
    }
    std::printf("rdma-probe: %s\n", failures ? "FAILED" : "all cases answered as expected");
    return failures ? 1 : 0;
}
