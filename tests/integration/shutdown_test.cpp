// SIGTERM while hosts write: nvmfd stops accepting, lets in-flight commands
// finish, exits 0, and every write a host saw acknowledged is in the file.
#include <doctest/doctest.h>

#include <atomic>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>
#include <unistd.h>
#include <vector>

#include "tests/integration/nvmfd_process.hpp"
#include "tools/host/controller.hpp"
#include "tools/host/io_queue.hpp"

using namespace nvmfd;
using namespace nvmfd::host;
using testing::NvmfdProcess;

TEST_CASE("SIGTERM drains in-flight writes and exits 0 with every acknowledged write on disk") {
    char tmpl[] = "/var/tmp/nvmfd-drain-XXXXXX";
    std::string dir = mkdtemp(tmpl);
    std::string image = dir + "/ns.img";
    testing::DaemonOptions o;
    o.state_json = R"({"version": 1,
      "subsystems": [{"nqn": "nqn.2026-11.io.nvmfd:default", "allow_any_host": true,
        "namespaces": [{"nsid": 1, "backend": "uring",
                        "params": {"path": ")" + image + R"(", "size": "64M", "create": "true"}}]}],
      "ports": [{"id": 1, "address": "127.0.0.1", "service": "@PORT@",
                 "subsystems": ["nqn.2026-11.io.nvmfd:default"]}]})";
    o.extra_args = {"--reactors", "2"};
    NvmfdProcess d(o);

    struct Acked {
        uint64_t lba;
        uint8_t value;
    };
    std::mutex m;
    std::vector<Acked> acked;
    std::atomic<bool> stop{false};
    ControllerOptions co;
    co.subnqn = NvmfdProcess::default_nqn();
    Controller ctrl = Controller::connect({"127.0.0.1", d.port()}, co);
    ctrl.request_io_queues(4);
    std::vector<std::thread> writers;
    for (uint16_t q = 1; q <= 4; ++q) {
        writers.emplace_back([&, q] {
            try {
                IoQueue io = ctrl.connect_io_queue(q, 32);
                std::vector<std::byte> block(4096);
                for (uint64_t i = 0; !stop; ++i) {
                    uint64_t lba = (q - 1) * 32768 + (i % 4096) * 8;
                    uint8_t v = static_cast<uint8_t>(i * 7 + q);
                    std::memset(block.data(), v, block.size());
                    if (io.write(1, lba, 8, block).ok()) {
                        std::lock_guard lock(m);
                        acked.push_back({lba, v});
                    }
                }
            } catch (const std::exception&) {
                // The target went away under us: expected once SIGTERM lands.
            }
        });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    CHECK(d.stop() == 0);  // SIGTERM, then the exit status
    stop = true;
    for (auto& t : writers) t.join();
    REQUIRE(acked.size() > 100);

    // The last acknowledged value of every block is in the file.
    std::map<uint64_t, uint8_t> last;
    for (auto& a : acked) last[a.lba] = a.value;
    int fd = ::open(image.c_str(), O_RDONLY);
    REQUIRE(fd >= 0);
    size_t wrong = 0;
    std::vector<uint8_t> buf(4096);
    for (auto& [lba, v] : last) {
        REQUIRE(::pread(fd, buf.data(), buf.size(), off_t(lba * 512)) == 4096);
        for (uint8_t b : buf)
            if (b != v) {
                ++wrong;
                break;
            }
    }
    ::close(fd);
    CHECK(wrong == 0);
    MESSAGE(acked.size() << " writes acknowledged before SIGTERM, " << last.size() << " blocks checked");
    std::filesystem::remove_all(dir);
}
