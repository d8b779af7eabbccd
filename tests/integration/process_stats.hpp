// What the daemon under test costs, from /proc: CPU time and resident memory.
#pragma once

#include <chrono>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <sys/types.h>
#include <thread>
#include <unistd.h>

namespace nvmfd::testing {

// CPU seconds (user + system) the process has used so far.
inline double cpu_seconds(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string all((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::istringstream fields(all.substr(all.rfind(')') + 2));
    std::string f;
    unsigned long long ticks = 0;
    for (int i = 3; i <= 15 && fields >> f; ++i)
        if (i == 14 || i == 15) ticks += std::stoull(f);  // utime, stime
    return double(ticks) / double(::sysconf(_SC_CLK_TCK));
}

// Share of one core the process uses over `window`.
inline double cpu_share(pid_t pid, std::chrono::milliseconds window) {
    double before = cpu_seconds(pid);
    std::this_thread::sleep_for(window);
    return (cpu_seconds(pid) - before) / std::chrono::duration<double>(window).count();
}

inline size_t rss_bytes(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(in, line);)
        if (line.starts_with("VmRSS:")) return std::stoull(line.substr(6)) * 1024;
    return 0;
}

}  // namespace nvmfd::testing
