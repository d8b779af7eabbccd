// A policy engine over a real control plane (control_fixture.hpp) for the
// Lua engine's tests: an io_context standing in for the control thread and
// the errors policies report.
#pragma once

#include "tests/unit/control_fixture.hpp"

#include <boost/asio/io_context.hpp>

#include "lua/policy_manager.hpp"

namespace nvmfd::test {

// The control plane, an io_context standing in for the control thread, and
// a policy manager whose reported errors are collected.
struct Engine {
    Fixture f;
    boost::asio::io_context io;
    std::vector<lua::PolicyError> errors;
    std::unique_ptr<lua::PolicyManager> policies;

    Engine() { start(); }
    ~Engine() { policies.reset(); }
    void start() {
        policies = std::make_unique<lua::PolicyManager>(
            io, *f.control, lua::PolicyLimits{}, [this](const lua::PolicyError& e) { errors.push_back(e); });
    }
    Result<void> load(const std::string& source, std::map<std::string, std::string> params = {}) {
        return policies->load("p", source, "p.lua", params);
    }
    // Runs the loop until pred holds (or a generous bound passes).
    bool run_until(const std::function<bool()>& pred, std::chrono::milliseconds bound = std::chrono::seconds(10)) {
        auto end = std::chrono::steady_clock::now() + bound;
        while (!pred() && std::chrono::steady_clock::now() < end) {
            io.restart();
            io.run_for(std::chrono::milliseconds(5));
        }
        return pred();
    }
    void run_for(std::chrono::milliseconds d) {
        run_until([] { return false; }, d);
    }
    bool reported(const std::string& needle) const {
        for (auto& e : errors)
            if (e.message.find(needle) != std::string::npos) return true;
        return false;
    }
};

}  // namespace nvmfd::test
