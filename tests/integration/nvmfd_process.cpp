#include "tests/integration/nvmfd_process.hpp"

#include <cstdlib>
#include <arpa/inet.h>
#include <csignal>
#include <fcntl.h>
#include <fstream>
#include <netinet/in.h>
#include <sstream>
#include <stdexcept>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace nvmfd::testing {

namespace fs = std::filesystem;


// The environment may name another build's daemon, e.g. to see a regression
// test fail against the code before its fix.
std::string NvmfdProcess::binary() {
    const char* other = std::getenv("NVMFD_TEST_BINARY");
    return other && *other ? other : NVMFD_TEST_BINARY;
}
std::string NvmfdProcess::plugin_dir() {
    const char* other = std::getenv("NVMFD_TEST_PLUGIN_DIR");
    return other && *other ? other : NVMFD_TEST_PLUGIN_DIR;
}

NvmfdProcess::NvmfdProcess(DaemonOptions options) : options_(std::move(options)) {
    char tmpl[] = "/tmp/nvmfd-it-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    port_ = free_tcp_port();
    launch();
}

NvmfdProcess::~NvmfdProcess() {
    if (pid_ > 0) {
        if (stop() != 0) kill_hard();
    }
    std::error_code ec;
    if (!std::getenv("NVMFD_KEEP_TEST_DIR")) fs::remove_all(dir_, ec);
}

void NvmfdProcess::launch() {
    if (!options_.state_json.empty() && !fs::exists(state_file())) {
        std::string s = options_.state_json;
        for (size_t at; (at = s.find("@PORT@")) != std::string::npos;) s.replace(at, 6, std::to_string(port_));
        for (size_t at; (at = s.find("@PORT2@")) != std::string::npos;) {
            if (second_port_ == 0) second_port_ = free_tcp_port();
            s.replace(at, 7, std::to_string(second_port_));
        }
        std::ofstream(state_file()) << s;
    }
    if (!options_.secrets_json.empty() && !fs::exists(dir_ / "state.secrets.json"))
        std::ofstream(dir_ / "state.secrets.json") << options_.secrets_json;
    std::vector<std::string> args = {binary(), "--listen", "127.0.0.1:" + std::to_string(port_), "--plugin-dir",
                                     plugin_dir(), "--log-level", "debug", "--default-size", "256M", "--bus", "none"};
    if (options_.keep_state || !options_.state_json.empty()) {
        args.push_back("--state-file");
        args.push_back(state_file().string());
    } else {
        args.push_back("--no-state");
    }
    if (!options_.config_text.empty()) {
        std::ofstream(dir_ / "nvmfd.conf") << options_.config_text;
        args.push_back("--config");
        args.push_back((dir_ / "nvmfd.conf").string());
    }
    for (auto& a : options_.extra_args) args.push_back(a);
    std::string log_path = (dir_ / "nvmfd.log").string();
    pid_ = ::fork();
    if (pid_ == 0) {
        int fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        ::dup2(fd, 1);
        ::dup2(fd, 2);
        if (options_.max_open_files) {
            rlimit limit{options_.max_open_files, options_.max_open_files};
            ::setrlimit(RLIMIT_NOFILE, &limit);
        }
        std::vector<char*> argv;
        for (auto& a : args) argv.push_back(a.data());
        argv.push_back(nullptr);
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    if (!wait_listening(std::chrono::seconds(15))) {
        // The constructor throws, so no destructor will stop it: do it here.
        kill_hard();
        throw std::runtime_error("nvmfd did not start listening; its log:\n" + log());
    }
}

bool NvmfdProcess::wait_listening(std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    auto accepts = [](uint16_t port) {
        int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons(port);
        bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
        ::close(fd);
        return ok;
    };
    while (std::chrono::steady_clock::now() < deadline) {
        if (!running()) return false;
        // The second port of the state file too: it starts listening after
        // the first, and a test that goes there at once was refused.
        if (accepts(port_) && (second_port_ == 0 || accepts(second_port_))) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
}

std::string NvmfdProcess::log() const {
    std::ifstream in(dir_ / "nvmfd.log");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

bool NvmfdProcess::running() {
    if (pid_ <= 0) return false;
    int status;
    pid_t r = ::waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
        pid_ = -1;
        return false;
    }
    return true;
}

int NvmfdProcess::stop(std::chrono::milliseconds timeout) {
    if (pid_ <= 0) return -1;
    ::kill(pid_, SIGTERM);
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
        int status;
        pid_t r = ::waitpid(pid_, &status, WNOHANG);
        if (r == pid_) {
            pid_ = -1;
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return -1;
}

void NvmfdProcess::kill_hard() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGKILL);
    int status;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
}

void NvmfdProcess::restart() {
    if (pid_ > 0) stop();
    launch();
}

}  // namespace nvmfd::testing
