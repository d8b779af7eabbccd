// The target every command and PDU fuzzer talks to, built once per process:
// one started reactor, one I/O subsystem open to any host with two malloc
// namespaces (512-byte and 4 KiB blocks) in two ANA groups, and port 1
// (tcp, 127.0.0.1:4420) exposing it, published as the control plane would.
// Built by hand rather than through Control so that a fuzzer may carry its
// own copy of a transport (the tcp fuzzer) without Control loading the
// plugin's .so beside it.
#pragma once

#include <functional>
#include <memory>

#include "core/plugin/loader.hpp"
#include "core/runtime/reactor.hpp"
#include "core/target/target.hpp"

namespace nvmfd::fuzz {

inline constexpr const char* kSubsystemNqn = "nqn.2026-11.io.nvmfd:fuzz";
inline constexpr uint16_t kPortId = 1;

class FuzzModel {
public:
    // The process-wide model (built on first use, never destroyed before exit).
    static FuzzModel& get();

    target::Target& target() { return target_; }
    runtime::Reactor& reactor() { return reactors_.at(0); }
    // Run fn on the reactor and wait for it: everything a queue pair or a
    // connection does happens on its reactor.
    void run(const std::function<void()>& fn);

private:
    FuzzModel();
    plugin::PluginLoader loader_;
    std::unique_ptr<plugin::Backend> backend_;
    runtime::ReactorGroup reactors_;
    target::Target target_;
};

}  // namespace nvmfd::fuzz
