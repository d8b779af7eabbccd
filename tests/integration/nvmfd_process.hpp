// Runs nvmfd from the build tree on an ephemeral loopback port for a test,
// and stops it (SIGTERM, then SIGKILL if it hangs) when the test ends.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>
#include <sys/types.h>
#include <vector>

#include "tests/free_port.hpp"  // free_tcp_port()

namespace nvmfd::testing {

struct DaemonOptions {
    std::vector<std::string> extra_args;       // appended to the command line
    std::string state_json;                    // written to the state file first; "@PORT@" becomes the port
                                               // ("@PORT2@" another free one, see second_port())
    std::string secrets_json;                  // written to the secrets file next to the state file first
    bool keep_state = false;                   // --no-state unless a state file is wanted
    std::string config_text;                   // non-empty: written to nvmfd.conf and passed as --config
    unsigned max_open_files = 0;               // non-zero: the daemon's RLIMIT_NOFILE
};

class NvmfdProcess {
public:
    explicit NvmfdProcess(DaemonOptions options = {});
    ~NvmfdProcess();
    NvmfdProcess(const NvmfdProcess&) = delete;
    NvmfdProcess& operator=(const NvmfdProcess&) = delete;

    uint16_t port() const { return port_; }
    uint16_t second_port() const { return second_port_; }
    pid_t pid() const { return pid_; }
    const std::filesystem::path& dir() const { return dir_; }
    std::filesystem::path state_file() const { return dir_ / "state.json"; }
    std::string log() const;
    bool running();
    // SIGTERM and wait; returns the exit status (or -1 on timeout/signal).
    int stop(std::chrono::milliseconds timeout = std::chrono::seconds(20));
    void kill_hard();
    // Start again with the same port, directory and options.
    void restart();

    static std::string binary();
    static std::string plugin_dir();
    static const char* default_nqn() { return "nqn.2026-11.io.nvmfd:default"; }

private:
    void launch();
    bool wait_listening(std::chrono::milliseconds timeout);

    DaemonOptions options_;
    std::filesystem::path dir_;
    uint16_t port_ = 0;
    uint16_t second_port_ = 0;
    pid_t pid_ = -1;
};


}  // namespace nvmfd::testing
