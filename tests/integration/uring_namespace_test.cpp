// The uring backend through the whole stack: nvmfd serving files and a
// loop device, driven over NVMe/TCP by the tools/ host library. Verified
// I/O, flush, write zeroes, deallocate, an injected ENOSPC that the host
// sees as Capacity Exceeded while other I/O goes on, data that was
// written and flushed surviving a SIGKILL of nvmfd byte for byte, and
// backend errors reaching a policy (on_backend_error).
#include <doctest/doctest.h>

#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <sys/mount.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/integration/log_wait.hpp"
#include "tests/integration/nvmfd_process.hpp"
#include "tools/host/controller.hpp"
#include "tools/host/io_queue.hpp"

using namespace nvmfd;
using namespace nvmfd::host;
using testing::NvmfdProcess;
namespace status = proto::status;
namespace fs = std::filesystem;

namespace {

const std::string kNqn = "nqn.2026-11.io.nvmfd:default";

struct Scratch {
    fs::path dir;
    std::string loop;
    bool tmpfs = false;
    Scratch() {
        char tmpl[] = "/var/tmp/nvmfd-uring-it-XXXXXX";
        dir = mkdtemp(tmpl);
    }
    ~Scratch() {
        if (!loop.empty()) std::system(("losetup -d " + loop + " 2>/dev/null").c_str());
        if (tmpfs) ::umount2((dir / "small").c_str(), MNT_DETACH);
        fs::remove_all(dir);
    }
    // A loop device over a sparse file, or "" when this machine cannot make one.
    std::string make_loop(size_t bytes) {
        auto backing = dir / "loop.img";
        { std::ofstream(backing).close(); }
        fs::resize_file(backing, bytes);
        FILE* p = ::popen(("losetup -f --show " + backing.string() + " 2>/dev/null").c_str(), "r");
        char buf[128] = {};
        if (p && std::fgets(buf, sizeof buf, p)) loop = buf;
        if (p) ::pclose(p);
        while (!loop.empty() && (loop.back() == '\n')) loop.pop_back();
        return loop;
    }
    // A 1 MiB tmpfs: a file on it runs out of space quickly.
    bool make_small_tmpfs() {
        fs::create_directory(dir / "small");
        tmpfs = ::mount("tmpfs", (dir / "small").c_str(), "tmpfs", 0, "size=1M") == 0;
        return tmpfs;
    }
};

std::string state_with(const std::vector<std::string>& namespace_params) {
    std::string ns;
    uint32_t nsid = 1;
    for (const auto& p : namespace_params) {
        if (!ns.empty()) ns += ",";
        ns += R"({"nsid": )" + std::to_string(nsid++) + R"(, "backend": "uring", "params": )" + p + "}";
    }
    return R"({"version": 1, "subsystems": [{"nqn": ")" + kNqn + R"(", "allow_any_host": true, "namespaces": [)" + ns +
           R"(]}], "ports": [{"id": 1, "address": "127.0.0.1", "service": "@PORT@", "subsystems": [")" + kNqn +
           R"("]}]})";
}

std::vector<std::byte> pattern(size_t len, uint64_t seed) {
    std::vector<std::byte> v(len);
    std::mt19937_64 rng(seed);
    for (auto& b : v) b = std::byte(rng());
    return v;
}

struct Host {
    Controller ctrl;
    IoQueue io;
    explicit Host(uint16_t port)
        : ctrl(Controller::connect({"127.0.0.1", port}, [] {
              ControllerOptions o;
              o.subnqn = kNqn;
              return o;
          }())),
          io((ctrl.request_io_queues(1), ctrl.connect_io_queue(1, 32))) {}
};

void exercise(IoQueue& io, uint32_t nsid, uint64_t blocks) {
    for (size_t len : {4096ul, 8192ul + 4096, 131072ul, 1ul << 20}) {
        CAPTURE(len);
        auto data = pattern(len, len * nsid);
        uint64_t lba = (blocks / 2) - len / 512;
        REQUIRE(io.write(nsid, lba, uint32_t(len / 512), data) == status::kSuccess);
        std::vector<std::byte> back(len);
        REQUIRE(io.read(nsid, lba, uint32_t(len / 512), back) == status::kSuccess);
        CHECK(back == data);
    }
    CHECK(io.flush(nsid) == status::kSuccess);
    auto data = pattern(65536, 77);
    REQUIRE(io.write(nsid, 256, 128, data) == status::kSuccess);
    REQUIRE(io.write_zeroes(nsid, 256, 32) == status::kSuccess);
    proto::DsmRange r{0, 32, 256 + 64};
    REQUIRE(io.deallocate(nsid, std::span(&r, 1)) == status::kSuccess);
    std::vector<std::byte> back(65536);
    REQUIRE(io.read(nsid, 256, 128, back) == status::kSuccess);
    std::vector<std::byte> zero(16384);
    CHECK(std::memcmp(back.data(), zero.data(), 16384) == 0);                    // write zeroes
    CHECK(std::memcmp(back.data() + 16384, data.data() + 16384, 16384) == 0);    // untouched
    CHECK(std::memcmp(back.data() + 32768, zero.data(), 16384) == 0);            // deallocated
    CHECK(std::memcmp(back.data() + 49152, data.data() + 49152, 16384) == 0);    // after the range
    CHECK(io.read(nsid, blocks - 4, 8, back.size() >= 4096 ? std::span(back).first(4096) : std::span(back)) ==
          status::kLbaOutOfRange);
}

}  // namespace

TEST_CASE("uring namespaces on a file and on a loop device serve verified I/O over NVMe/TCP") {
    Scratch s;
    std::vector<std::string> params = {R"({"path": ")" + (s.dir / "ns1.img").string() +
                                       R"(", "size": "64M", "create": "true"})"};
    std::string loop = s.make_loop(32u << 20);
    if (!loop.empty()) params.push_back(R"({"path": ")" + loop + R"("})");
    else MESSAGE("no loop device here (losetup failed): the block device half is skipped");
    testing::DaemonOptions o;
    o.state_json = state_with(params);
    NvmfdProcess d(o);
    Host h(d.port());
    exercise(h.io, 1, (64u << 20) / 512);
    // Deallocated file blocks read back as zeroes, so the namespace says so.
    proto::IdentifyNamespace id;
    REQUIRE(h.ctrl.identify_namespace(1, id).ok());
    CHECK(id.dlfeat == proto::idns::kDlfeatReadsZeroes);
    if (!loop.empty()) {
        // Discard on a loop device does not promise zeroes: no DLFEAT, and
        // the exercise's zero check only covers write zeroes there.
        REQUIRE(h.ctrl.identify_namespace(2, id).ok());
        CHECK(h.ctrl.namespace_geometry(2).blocks == (32u << 20) / 512);
        auto data = pattern(1u << 20, 3);
        REQUIRE(h.io.write(2, 1024, 2048, data) == status::kSuccess);
        std::vector<std::byte> back(1u << 20);
        REQUIRE(h.io.read(2, 1024, 2048, back) == status::kSuccess);
        CHECK(back == data);
        CHECK(h.io.flush(2) == status::kSuccess);
        REQUIRE(h.io.write_zeroes(2, 1024, 64) == status::kSuccess);
        REQUIRE(h.io.read(2, 1024, 2048, back) == status::kSuccess);
        std::vector<std::byte> zero(32768);
        CHECK(std::memcmp(back.data(), zero.data(), zero.size()) == 0);
        // What the host wrote is on the device itself.
        int fd = ::open(loop.c_str(), O_RDONLY);
        REQUIRE(fd >= 0);
        std::vector<std::byte> raw(4096);
        REQUIRE(::pread(fd, raw.data(), raw.size(), off_t(1024 + 64) * 512) == 4096);
        ::close(fd);
        CHECK(std::memcmp(raw.data(), data.data() + 32768, 4096) == 0);
    }
}

TEST_CASE("a full file system is Capacity Exceeded for the host while reads go on") {
    Scratch s;
    if (!s.make_small_tmpfs()) {
        MESSAGE("cannot mount a tmpfs here: skipped");
        return;
    }
    testing::DaemonOptions o;
    o.state_json = state_with({R"({"path": ")" + (s.dir / "small" / "thin.img").string() +
                               R"(", "size": "8M", "create": "true"})"});
    NvmfdProcess d(o);
    Host h(d.port());
    auto data = pattern(65536, 9);
    proto::Status last = status::kSuccess;
    uint64_t lba = 0;
    for (; lba < (8u << 20) / 512 && last.ok(); lba += 128) last = h.io.write(1, lba, 128, data);
    CHECK(last == status::kCapacityExceeded);
    CHECK(last.dnr());
    // What was written before the disk filled is still there, and served.
    std::vector<std::byte> back(65536);
    REQUIRE(h.io.read(1, 0, 128, back) == status::kSuccess);
    CHECK(back == data);
    CHECK(h.ctrl.keep_alive().ok());
    CHECK(d.log().find("capacity exceeded") != std::string::npos);
    // Freeing space (deallocate punches holes) lets writes succeed again.
    proto::DsmRange r{0, 1024, 0};
    REQUIRE(h.io.deallocate(1, std::span(&r, 1)) == status::kSuccess);
    CHECK(h.io.write(1, lba - 128, 128, data) == status::kSuccess);
}

TEST_CASE("data written and flushed before nvmfd is SIGKILLed is in the file, byte for byte") {
    Scratch s;
    auto image = s.dir / "durable.img";
    testing::DaemonOptions o;
    o.state_json = state_with({R"({"path": ")" + image.string() + R"(", "size": "16M", "create": "true"})"});
    NvmfdProcess d(o);
    auto data = pattern(3u << 20, 42);
    {
        Host h(d.port());
        for (uint32_t i = 0; i < 3; ++i)
            REQUIRE(h.io.write(1, 4096 + i * 2048, 2048, std::span(data).subspan(size_t(i) << 20, 1u << 20)) ==
                    status::kSuccess);
        REQUIRE(h.io.flush(1) == status::kSuccess);
        d.kill_hard();
    }
    std::vector<std::byte> back(data.size());
    int fd = ::open(image.c_str(), O_RDONLY);
    REQUIRE(fd >= 0);
    REQUIRE(::pread(fd, back.data(), back.size(), off_t(4096) * 512) == ssize_t(back.size()));
    ::close(fd);
    CHECK(back == data);
}

TEST_CASE("backend I/O errors reach policies as on_backend_error; a host's bad range does not count") {
    Scratch s;
    auto image = s.dir / "shrinking.img";
    auto state = nlohmann::json::parse(
        state_with({R"({"path": ")" + image.string() + R"(", "size": "16M", "create": "true"})"}));
    state["policies"] = {{{"name", "health"},
                          {"source", "function on_backend_error(e) nvmfd.log('notice', string.format("
                                     "'backend errors on %s/%d: %d (total %d)', e.subsystem, e.nsid, e.errors, "
                                     "e.total)) end"},
                          {"file", "health.lua"},
                          {"params", nlohmann::json::object()}}};
    testing::DaemonOptions o;
    o.state_json = state.dump();
    NvmfdProcess d(o);
    Host h(d.port());
    std::vector<std::byte> buf(4096);
    REQUIRE(h.io.read(1, 0, 8, buf) == status::kSuccess);
    // The file loses its tail behind the namespace's back: reads there are
    // short, which the backend reports as read errors.
    fs::resize_file(image, 1u << 20);
    for (uint32_t i = 0; i < 12; ++i) CHECK_FALSE(h.io.read(1, (8u << 20) / 512 + i * 8, 8, buf).ok());
    // The host's own mistake is no backend error.
    CHECK(h.io.read(1, (16u << 20) / 512, 8, buf) == status::kLbaOutOfRange);
    std::string line = "backend errors on " + kNqn + "/1: ";
    CHECK(testing::log_shows(d, "(total 12)", std::chrono::seconds(6)));
    CHECK(d.log().find(line) != std::string::npos);
    std::this_thread::sleep_for(std::chrono::milliseconds(1200));
    CHECK(d.log().find("(total 13)") == std::string::npos);
}
