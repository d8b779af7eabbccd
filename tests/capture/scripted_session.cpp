// A short, deterministic NVMe/TCP session that touches every PDU type and
// the main command paths, for the capture test to dissect: discovery,
// connect with and without digests and with HPDA padding, identify, log
// pages, features, writes in-capsule and through R2T, reads with and
// without the C2HData SUCCESS flag, compare, write zeroes, deallocate.
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "tools/host/controller.hpp"
#include "tools/host/discovery.hpp"
#include "tools/host/io_queue.hpp"

using namespace nvmfd;
using namespace nvmfd::host;

namespace {

int failures = 0;

void expect(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "scripted session: %s failed\n", what);
        ++failures;
    }
}

void session(uint16_t port, const std::string& nqn, bool digests, uint8_t hpda, bool no_sqflow) {
    ControllerOptions o;
    o.subnqn = nqn;
    o.kato_ms = 10000;
    o.transport.header_digest = o.transport.data_digest = digests;
    o.transport.hpda = hpda;
    Controller ctrl = Controller::connect({"127.0.0.1", port}, o);
    ctrl.request_io_queues(1);
    std::vector<std::byte> page(4096);
    for (uint8_t lid : {0x01, 0x02, 0x03, 0x05, 0x0c})
        expect(ctrl.get_log_page(lid, page) == proto::status::kSuccess, "get log page");
    expect(ctrl.get_features(uint8_t(proto::FeatureId::NumberOfQueues)).status.ok(), "get features");
    std::vector<uint32_t> ns;
    expect(ctrl.active_namespaces(ns).ok(), "active namespaces");
    IoQueueOptions qo;
    qo.disable_sq_flow_control = no_sqflow;
    IoQueue io = ctrl.connect_io_queue(1, 16, qo);
    uint64_t lba = 0;
    for (size_t len : {512ul, 4096ul, 8192ul, 12288ul, 65536ul, 262144ul}) {
        std::vector<std::byte> data(len);
        for (size_t i = 0; i < len; ++i) data[i] = std::byte(i * 7 + len);
        uint32_t blocks = static_cast<uint32_t>(len / 512);
        expect(io.write(1, lba, blocks, data).ok(), "write");
        std::vector<std::byte> back(len);
        expect(io.read(1, lba, blocks, back).ok() && back == data, "read back");
        expect(io.compare(1, lba, blocks, data).ok(), "compare");
        lba += blocks;
    }
    expect(io.flush(1).ok(), "flush");
    expect(io.write_zeroes(1, 0, 8).ok(), "write zeroes");
    proto::DsmRange r{0, 8, 8};
    expect(io.deallocate(1, std::span(&r, 1)).ok(), "deallocate");
    std::vector<std::byte> buf(4096);
    expect(io.read(1, ~0ull - 8, 8, buf) == proto::status::kLbaOutOfRange, "out of range read");
    expect(ctrl.keep_alive().ok(), "keep alive");
    ctrl.shutdown();
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3) {
        std::fprintf(stderr, "usage: %s PORT SUBNQN\n", argv[0]);
        return 2;
    }
    uint16_t port = static_cast<uint16_t>(std::stoi(argv[1]));
    std::string nqn = argv[2];
    try {
        DiscoveryLog log = discover({"127.0.0.1", port});
        expect(!log.entries.empty(), "discovery");
        session(port, nqn, false, 0, false);
        session(port, nqn, true, 0, false);
        session(port, nqn, true, 7, true);
        session(port, nqn, false, 3, true);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "scripted session: %s\n", e.what());
        return 1;
    }
    return failures ? 1 : 0;
}
