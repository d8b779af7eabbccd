// Durability across a crash of the daemon: a child process (this test
// binary, re-executed) writes through the backend, flushes, reports, and is
// SIGKILLed; every byte written before the report is on the file afterwards.
#include <csignal>
#include <cstring>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/backend_uring/crash_child.hpp"
#include "tests/backend_uring/harness.hpp"

using namespace nvmfd;
using namespace nvmfd::test_uring;

namespace nvmfd::test_uring {

// Child side: write pattern regions, flush, FUA-write one more, report
// "ready" on the pipe, then keep writing (unflushed) until killed.
int crash_child(const std::string& path, const std::string& direct, int report_fd) {
    Env env;
    auto dev = env.open_device({{"path", path}, {"size", "16M"}, {"create", "true"}, {"direct", direct}});
    for (const auto& r : kCrashRegions) {
        Buffer out(r.length);
        fill_pattern(out.data(), r.length, r.offset, r.seed);
        if (dev->write(r.offset, out, r.length, 4096, r.fua).status != IoStatus::Ok) return 2;
    }
    if (dev->flush().status != IoStatus::Ok) return 3;
    if (::write(report_fd, "ready\n", 6) != 6) return 4;
    Buffer noise(1 << 20);
    for (uint32_t i = 0;; ++i) {
        fill_pattern(noise.data(), noise.size(), 12u << 20, 1000 + i);
        dev->write(12u << 20, noise, noise.size());
    }
}

}  // namespace nvmfd::test_uring

TEST_SUITE("crash") {

TEST_CASE("data written and flushed before SIGKILL is on the file byte for byte") {
    for (std::string direct : {"auto", "false"}) {
        CAPTURE(direct);
        TempDir tmp;
        std::string f = tmp.file("durable.img");
        int fds[2];
        REQUIRE(::pipe(fds) == 0);
        pid_t pid = ::fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            ::close(fds[0]);
            std::string report = std::to_string(fds[1]);
            ::execl("/proc/self/exe", "uring_tests", kCrashChildFlag, f.c_str(), direct.c_str(), report.c_str(),
                    static_cast<char*>(nullptr));
            ::_exit(127);
        }
        ::close(fds[1]);
        char buf[16] = {};
        ssize_t n = ::read(fds[0], buf, sizeof buf - 1);
        ::close(fds[0]);
        CHECK(std::string(buf, n > 0 ? size_t(n) : 0) == "ready\n");
        ::usleep(20000);  // let it get some unflushed writes going
        ::kill(pid, SIGKILL);
        int status = 0;
        REQUIRE(::waitpid(pid, &status, 0) == pid);
        if (WIFEXITED(status)) FAIL("the child exited with status " << WEXITSTATUS(status) << " before the kill");
        CHECK(WIFSIGNALED(status));
        CHECK(WTERMSIG(status) == SIGKILL);

        int fd = ::open(f.c_str(), O_RDONLY);
        REQUIRE(fd >= 0);
        for (const auto& r : kCrashRegions) {
            CAPTURE(r.offset);
            std::vector<uint8_t> back(r.length);
            REQUIRE(::pread(fd, back.data(), r.length, static_cast<off_t>(r.offset)) == ssize_t(r.length));
            CHECK(matches_pattern(back.data(), r.length, r.offset, r.seed));
        }
        ::close(fd);
    }
}

}  // TEST_SUITE
