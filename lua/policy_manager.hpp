// The policy engine: implements control::PolicyService over Policy objects
// held by name, persists them through control::Control, reloads them at
// start (restore), and turns control events into handler calls. Lives on
// the control thread (the io_context's); never on a reactor.
#pragma once

#include <map>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>

#include "core/control/control.hpp"
#include "core/control/policy_service.hpp"
#include "lua/policy.hpp"

namespace nvmfd::lua {

class PolicyManager : public control::PolicyService {
public:
    PolicyManager(boost::asio::io_context& io, control::Control& control, PolicyLimits limits = {},
                  ErrorCallback on_error = {});
    ~PolicyManager() override;

    // Start: load every persisted policy. One that fails is logged,
    // reported (handler "load") and listed with its error; the others load
    // anyway.
    void restore();
    // Where runtime errors go besides the log (the D-Bus PolicyError signal).
    void set_error_callback(ErrorCallback cb) { on_error_ = std::move(cb); }

    Result<void> load(const std::string& name, const std::string& source, const std::string& file,
                      const std::map<std::string, std::string>& params) override;
    Result<void> unload(const std::string& name) override;
    std::vector<control::PolicyInfo> list() const override;
    Result<control::PolicyInfo> show(const std::string& name) const override;
    Result<std::map<std::string, std::string>> provision(const std::string& name,
                                                         const std::map<std::string, std::string>& args) override;
    Result<std::string> test(const control::PolicyTest& test) override;

private:
    void dispatch(const control::Event& e);

    ErrorCallback on_error_;
    PolicyEnvironment env_;  // its on_error forwards to on_error_, which may be set later
    std::map<std::string, std::unique_ptr<Policy>> policies_;
    // Persisted but refused at start (e.g. a state file edited by hand):
    // listed with their error until replaced or unloaded.
    std::map<std::string, control::PolicyInfo> broken_;
    // Control keeps its listeners for its whole life: this tells the one
    // registered here whether the manager still exists.
    std::shared_ptr<PolicyManager*> alive_ = std::make_shared<PolicyManager*>(this);
};

}  // namespace nvmfd::lua
