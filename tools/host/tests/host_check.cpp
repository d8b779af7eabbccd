// nvmf-host-check: runs the host library against a real target and reports
// each check as PASS or FAIL: discovery, Connect, properties, Identify, log
// pages, features, keep-alive, data round trips from 512 B to MDTS with
// in-capsule and R2T writes, pipelined multi-queue verify, compare, write
// zeroes, deallocate, error statuses, AER, shutdown. Used against the Linux
// kernel target (tools/host/tests/interop) and against nvmfd.
#include <boost/program_options.hpp>
#include <fmt/format.h>
#include <functional>
#include <iostream>
#include <random>

#include "core/proto/status.hpp"
#include "tools/host/commands.hpp"
#include "tools/host/controller.hpp"
#include "tools/host/discovery.hpp"
#include "tools/host/errors.hpp"

namespace po = boost::program_options;
using namespace nvmfd;
using namespace nvmfd::host;

namespace {

struct Settings {
    Endpoint endpoint;
    std::string subnqn;
    uint32_t nsid = 1;
    TransportOptions transport;
    bool disable_sqflow = false;
    bool small_r2t = true;
    uint64_t max_io = 1 << 20;
    std::chrono::milliseconds timeout{30000};
};

class Checker {
public:
    explicit Checker(Settings s) : s_(std::move(s)) {}

    int run() {
        check("discovery", [&] { return discovery(); });
        check("connect and enable", [&] { return connect(); });
        if (!ctrl_) return finish();
        check("identify namespaces", [&] { return namespaces(); });
        check("log pages", [&] { return log_pages(); });
        check("features", [&] { return features(); });
        check("keep alive", [&] { return expect_ok(ctrl_->keep_alive(), "Keep Alive"); });
        check("write/read round trips", [&] { return round_trips(); });
        if (s_.small_r2t) check("small writes through R2T", [&] { return small_r2t_writes(); });
        check("pipelined verify on 2 queues", [&] { return pipelined(); });
        check("compare, write zeroes, deallocate, flush", [&] { return nvm_commands(); });
        check("error statuses", [&] { return error_statuses(); });
        check("asynchronous event request", [&] { return async_event(); });
        check("shutdown", [&] {
            ctrl_->shutdown();
            return std::string("CSTS.SHST complete");
        });
        return finish();
    }

private:
    void check(const char* name, const std::function<std::string()>& body) {
        try {
            std::string details = body();
            fmt::print("PASS {}{}\n", name, details.empty() ? "" : " (" + details + ")");
            ++passed_;
        } catch (const std::exception& e) {
            fmt::print("FAIL {}: {}\n", name, e.what());
            ++failed_;
        }
        std::fflush(stdout);
    }

    int finish() {
        fmt::print("{} passed, {} failed\n", passed_, failed_);
        return failed_ == 0 ? 0 : 1;
    }

    static std::string expect_ok(proto::Status s, const char* what) {
        if (!s.ok()) throw std::runtime_error(fmt::format("{}: {}", what, proto::status_name(s)));
        return {};
    }

    ControllerOptions controller_options() const {
        ControllerOptions o;
        o.subnqn = s_.subnqn;
        o.transport = s_.transport;
        o.queue.command_timeout = s_.timeout;
        o.kato_ms = 30000;
        return o;
    }

    std::string discovery() {
        DiscoveryLog log = discover(s_.endpoint, controller_options());
        std::string entries;
        for (const DiscoveryEntry& e : log.entries) entries += "; " + describe(e);
        if (s_.subnqn.empty()) {
            auto first = first_nvm_subsystem(log);
            if (!first) throw std::runtime_error("no NVM subsystem in the discovery log" + entries);
            s_.subnqn = first->subnqn;
        }
        bool listed = std::any_of(log.entries.begin(), log.entries.end(),
                                  [&](const DiscoveryEntry& e) { return e.subnqn == s_.subnqn; });
        if (!listed) throw std::runtime_error(fmt::format("{} not in the discovery log{}", s_.subnqn, entries));
        return fmt::format("generation {}, {} entries{}", log.generation, log.entries.size(), entries);
    }

    std::string connect() {
        ctrl_ = std::make_unique<Controller>(Controller::connect(s_.endpoint, controller_options()));
        const proto::IdentifyController& id = ctrl_->identify_data();
        if (id.cntrltype != static_cast<uint8_t>(proto::ControllerType::Io))
            throw std::runtime_error(fmt::format("CNTRLTYPE {}, expected 1 (I/O controller)", id.cntrltype));
        if (id.sqes != 0x66 || id.cqes != 0x44)
            throw std::runtime_error(fmt::format("SQES {:#x} CQES {:#x}, expected 0x66 and 0x44", id.sqes, id.cqes));
        if (trimmed_field(id.subnqn, sizeof id.subnqn) != s_.subnqn)
            throw std::runtime_error("Identify SUBNQN differs from the NQN connected to");
        const TransportParams& p = ctrl_->admin().params();
        return fmt::format("cntlid {}, model '{}', VS {:#x}, MQES {}, IOCCSZ {} (in-capsule {} B), MDTS {}, MAXH2CDATA "
                           "{}, CPDA {}, digests {}/{}",
                           ctrl_->cntlid(), trimmed_field(id.mn, sizeof id.mn), ctrl_->version(),
                           ctrl_->max_queue_entries(), id.ioccsz, ctrl_->io_in_capsule_bytes(), id.mdts, p.maxh2cdata,
                           p.cpda, p.header_digest ? "on" : "off", p.data_digest ? "on" : "off");
    }

    std::string namespaces() {
        std::vector<uint32_t> nsids;
        expect_ok(ctrl_->active_namespaces(nsids), "Identify active namespace list");
        if (std::find(nsids.begin(), nsids.end(), s_.nsid) == nsids.end())
            throw std::runtime_error(fmt::format("NSID {} not in the active list", s_.nsid));
        std::vector<NamespaceDescriptor> descriptors;
        expect_ok(ctrl_->namespace_descriptors(s_.nsid, descriptors), "Identify namespace descriptors");
        geometry_ = ctrl_->namespace_geometry(s_.nsid);
        std::string kinds;
        for (const auto& d : descriptors) kinds += fmt::format(" {}", int(d.type));
        return fmt::format("{} active, nsid {}: {} blocks of {} B, descriptor types{}", nsids.size(), s_.nsid,
                           geometry_.blocks, geometry_.block_size, kinds);
    }

    std::string log_pages() {
        std::vector<std::byte> smart(512);
        expect_ok(ctrl_->get_log_page(0x02, smart), "SMART log");
        std::vector<std::byte> error(64);
        expect_ok(ctrl_->get_log_page(0x01, error), "error log");
        // Reads at an offset are covered by the discovery log's records.
        return "SMART, error information";
    }

    std::string features() {
        Completion nq = ctrl_->get_features(static_cast<uint8_t>(proto::FeatureId::NumberOfQueues));
        expect_ok(nq.status, "Get Features Number of Queues");
        Completion kato = ctrl_->get_features(static_cast<uint8_t>(proto::FeatureId::KeepAliveTimer));
        expect_ok(kato.status, "Get Features Keep Alive Timer");
        uint16_t granted = ctrl_->request_io_queues(16);
        return fmt::format("queues {:#x}, KATO {} ms, granted {} I/O queues", nq.dw0, kato.dw0, granted);
    }

    std::vector<std::byte> random_bytes(size_t n) {
        std::vector<std::byte> v(n);
        for (auto& b : v) b = static_cast<std::byte>(rng_());
        return v;
    }

    // A fresh QID each time: a target may free a closed queue's QID late.
    IoQueue io_queue(uint16_t depth) {
        uint16_t qid = next_qid_++;
        IoQueueOptions o;
        o.queue.command_timeout = s_.timeout;
        o.disable_sq_flow_control = s_.disable_sqflow;
        return ctrl_->connect_io_queue(qid, depth, o);
    }

    std::string round_trips() {
        IoQueue io = io_queue(4);
        uint32_t bs = geometry_.block_size;
        uint64_t limit = s_.max_io;
        if (uint64_t mdts = ctrl_->max_transfer_bytes(); mdts && mdts < limit) limit = mdts;
        uint32_t in_capsule = ctrl_->io_in_capsule_bytes();
        size_t count = 0;
        uint64_t lba = 0;
        auto round_trip = [&](size_t bytes, DataPlacement placement) {
            uint32_t blocks = static_cast<uint32_t>(bytes / bs);
            auto data = random_bytes(bytes);
            expect_ok(io.write(s_.nsid, lba, blocks, data, placement), "Write");
            std::vector<std::byte> back(bytes);
            expect_ok(io.read(s_.nsid, lba, blocks, back), "Read");
            if (back != data) throw std::runtime_error(fmt::format("{} bytes at LBA {} read back differently", bytes, lba));
            lba += blocks;
            ++count;
        };
        for (uint64_t bytes = bs; bytes <= limit; bytes *= 2) {
            round_trip(bytes, DataPlacement::Auto);
            if (bytes > in_capsule) round_trip(bytes, DataPlacement::Transport);
        }
        for (uint64_t bytes : {uint64_t(3) * bs, uint64_t(in_capsule) + bs, uint64_t(67) * bs})
            if (bytes <= limit && bytes % bs == 0) round_trip(bytes, DataPlacement::Auto);
        return fmt::format("{} round trips, {} B to {} B, in-capsule up to {} B", count, bs, limit, in_capsule);
    }

    // Writes that would fit in-capsule sent with a transport SGL instead: the
    // target must answer with an R2T. (Linux nvmet-tcp waits for in-capsule
    // data that never comes: see tools/host/README.md.)
    std::string small_r2t_writes() {
        IoQueue io = io_queue(4);
        uint32_t bs = geometry_.block_size;
        uint32_t in_capsule = ctrl_->io_in_capsule_bytes();
        size_t count = 0;
        for (uint64_t bytes = bs; bytes <= in_capsule; bytes *= 2) {
            uint32_t blocks = static_cast<uint32_t>(bytes / bs);
            auto data = random_bytes(bytes);
            expect_ok(io.write(s_.nsid, 8192, blocks, data, DataPlacement::Transport), "Write");
            std::vector<std::byte> back(bytes);
            expect_ok(io.read(s_.nsid, 8192, blocks, back), "Read");
            if (back != data) throw std::runtime_error(fmt::format("{} bytes read back differently", bytes));
            ++count;
        }
        return fmt::format("{} sizes up to {} B", count, in_capsule);
    }

    std::string pipelined() {
        constexpr uint16_t kDepth = 16;
        IoQueue a = io_queue(kDepth);
        IoQueue b = io_queue(kDepth);
        uint32_t bs = geometry_.block_size;
        uint32_t io_size = std::max<uint32_t>(4096, bs);
        uint32_t blocks = io_size / bs;
        size_t per_queue = 512;
        uint64_t base = 65536 / (bs / 512);  // away from the round-trip area
        std::vector<std::byte> expected = random_bytes(size_t(2) * per_queue * io_size);
        std::vector<std::byte> actual(expected.size());
        uint64_t errors = 0;
        for (bool writing : {true, false}) {
            IoQueue* queues[2] = {&a, &b};
            size_t next[2] = {0, 0}, done[2] = {0, 0};
            while (done[0] < per_queue || done[1] < per_queue) {
                for (int q = 0; q < 2; ++q) {
                    Queue& queue = queues[q]->queue();
                    while (next[q] < per_queue && !queue.full()) {
                        size_t index = q * per_queue + next[q]++;
                        uint64_t lba = base + index * blocks;
                        auto on_done = [&errors, count = &done[q]](const Completion& c) {
                            ++*count;
                            if (!c.status.ok()) ++errors;
                        };
                        if (writing)
                            queue.submit(cmd::write(s_.nsid, lba, blocks),
                                         Transfer::to_controller(std::span(expected).subspan(index * io_size, io_size)),
                                         on_done);
                        else
                            queue.submit(cmd::read(s_.nsid, lba, blocks),
                                         Transfer::from_controller(std::span(actual).subspan(index * io_size, io_size)),
                                         on_done);
                    }
                    queue.poll();
                }
                Queue* qs[2] = {&a.queue(), &b.queue()};
                wait_for_any(qs, std::chrono::milliseconds(10));
            }
        }
        if (errors) throw std::runtime_error(fmt::format("{} commands failed", errors));
        if (actual != expected) throw std::runtime_error("data read back differs");
        return fmt::format("{} writes and {} reads of {} B at QD {} per queue", 2 * per_queue, 2 * per_queue, io_size,
                           kDepth);
    }

    std::string nvm_commands() {
        IoQueue io = io_queue(4);
        uint32_t bs = geometry_.block_size;
        uint16_t oncs = ctrl_->identify_data().oncs;
        uint64_t lba = 4096;
        auto data = random_bytes(8 * bs);
        expect_ok(io.write(s_.nsid, lba, 8, data), "Write");
        std::string done = "flush";
        expect_ok(io.flush(s_.nsid), "Flush");
        if (oncs & proto::idctrl::kOncsCompare) {
            expect_ok(io.compare(s_.nsid, lba, 8, data), "Compare of equal data");
            auto other = data;
            other[bs + 7] ^= std::byte{1};
            proto::Status s = io.compare(s_.nsid, lba, 8, other);
            if (s != proto::status::kCompareFailure)
                throw std::runtime_error(fmt::format("Compare of different data: {}, expected compare failure",
                                                     proto::status_name(s)));
            done += ", compare";
        }
        proto::Status zeroes = (oncs & proto::idctrl::kOncsWriteZeroes) ? io.write_zeroes(s_.nsid, lba, 4)
                                                                        : proto::status::kInvalidOpcode;
        if (zeroes == proto::status::kInvalidOpcode && (oncs & proto::idctrl::kOncsWriteZeroes)) {
            // Linux nvmet over a file system without FALLOC_FL_ZERO_RANGE (tmpfs) answers so.
            done += ", write zeroes refused by this namespace (invalid opcode)";
        } else if (oncs & proto::idctrl::kOncsWriteZeroes) {
            expect_ok(zeroes, "Write Zeroes");
            std::vector<std::byte> back(8 * bs);
            expect_ok(io.read(s_.nsid, lba, 8, back), "Read");
            bool zero = std::all_of(back.begin(), back.begin() + 4 * bs, [](std::byte b) { return b == std::byte{0}; });
            if (!zero || !std::equal(back.begin() + 4 * bs, back.end(), data.begin() + 4 * bs))
                throw std::runtime_error("Write Zeroes did not zero exactly its 4 blocks");
            done += ", write zeroes";
        }
        if (oncs & proto::idctrl::kOncsDatasetManagement) {
            proto::DsmRange ranges[2] = {{0, 2, lba}, {0, 2, lba + 6}};
            expect_ok(io.deallocate(s_.nsid, ranges), "Dataset Management (deallocate)");
            done += ", deallocate";
        }
        return done;
    }

    std::string error_statuses() {
        IoQueue io = io_queue(4);
        uint32_t bs = geometry_.block_size;
        std::vector<std::byte> buffer(bs);
        proto::Status beyond = io.read(s_.nsid, geometry_.blocks, 1, buffer);
        std::string note;
        if (beyond == proto::status::kCapacityExceeded)
            note = " (past the end: capacity exceeded, where the base spec says LBA out of range)";
        else if (beyond != proto::status::kLbaOutOfRange)
            throw std::runtime_error(fmt::format("read past the end: {}, expected LBA out of range",
                                                 proto::status_name(beyond)));
        proto::Status bad_ns = io.read(0xfffffff0u, 0, 1, buffer);
        if (bad_ns != proto::status::kInvalidNamespace)
            throw std::runtime_error(fmt::format("read of NSID 0xfffffff0: {}, expected invalid namespace",
                                                 proto::status_name(bad_ns)));
        // The queue still works after errors.
        expect_ok(io.read(s_.nsid, 0, 1, buffer), "Read after errors");
        return "LBA out of range, invalid namespace" + note;
    }

    std::string async_event() {
        bool fired = false;
        ctrl_->submit_async_event([&fired](const Completion&) { fired = true; });
        auto until = Clock::now() + std::chrono::milliseconds(300);
        while (Clock::now() < until) ctrl_->admin().poll(std::chrono::milliseconds(50));
        expect_ok(ctrl_->keep_alive(), "Keep Alive with an AER outstanding");
        return fired ? "completed (an event was pending)" : "outstanding, as expected";
    }

    Settings s_;
    std::unique_ptr<Controller> ctrl_;
    NamespaceGeometry geometry_;
    std::mt19937_64 rng_{42};
    uint16_t next_qid_ = 1;
    int passed_ = 0;
    int failed_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
    Settings s;
    unsigned hpda = 0;
    unsigned timeout_ms = 30000;
    po::options_description desc("nvmf-host-check: the host library against a real NVMe/TCP target");
    desc.add_options()("help,h", "this help")("address,a", po::value(&s.endpoint.address)->default_value("127.0.0.1"),
                                              "target address")(
        "port,p", po::value(&s.endpoint.port)->default_value(4420), "target port")(
        "subnqn,n", po::value(&s.subnqn), "subsystem (default: first NVM subsystem from discovery)")(
        "nsid", po::value(&s.nsid)->default_value(1), "namespace")("hdgst", po::bool_switch(&s.transport.header_digest),
                                                                   "header digests")(
        "ddgst", po::bool_switch(&s.transport.data_digest), "data digests")(
        "hpda", po::value(&hpda)->default_value(0), "host PDU data alignment")(
        "disable-sqflow", po::bool_switch(&s.disable_sqflow), "disable SQ flow control on I/O queues")(
        "skip-small-r2t", "skip writes below the in-capsule size sent with a transport SGL (Linux nvmet hangs them)")(
        "max-io", po::value(&s.max_io)->default_value(s.max_io), "largest round trip in bytes")(
        "timeout", po::value(&timeout_ms)->default_value(timeout_ms), "command timeout in ms");
    po::variables_map vm;
    try {
        po::store(po::parse_command_line(argc, argv, desc), vm);
        po::notify(vm);
    } catch (const std::exception& e) {
        fmt::print(stderr, "nvmf-host-check: {}\n", e.what());
        return 2;
    }
    if (vm.count("help")) {
        std::cout << desc << "\n";
        return 0;
    }
    s.transport.hpda = static_cast<uint8_t>(hpda);
    s.small_r2t = vm.count("skip-small-r2t") == 0;
    s.timeout = std::chrono::milliseconds(timeout_ms);
    return Checker(s).run();
}
