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
#include "lua/backend_error_watch.hpp"
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
    // Call before the exports go live when restore() follows: hosts that
    // connect before the policies are back wait for them (their questions
    // are answered once the control thread runs, after restore()) instead
    // of slipping past an on_host_connect that is about to load. restore()
    // removes the hook again if no policy defines on_host_connect.
    void hold_admissions_until_restored();
    // Where runtime errors go besides the log (the D-Bus PolicyError signal).
    void set_error_callback(ErrorCallback cb) { on_error_ = std::move(cb); }

    Result<void> load(const std::string& name, const std::string& source, const std::string& file,
                      const std::map<std::string, std::string>& params) override;
    Result<void> unload(const std::string& name) override;
    std::vector<control::PolicyInfo> list() const override;
    Result<control::PolicyInfo> show(const std::string& name) const override;
    Result<std::vector<std::string>> set_draining(bool draining) override;
    bool draining() const override { return draining_; }

    // Asks every policy that defines on_host_connect, in name order; the
    // first denial is the verdict. A policy whose call fails (error, limit)
    // does not deny: that error is logged and reported, and the host gets
    // what the allow-list gives it. Control thread.
    control::AdmissionVerdict decide(const control::AdmissionQuery& q);
    Result<std::map<std::string, std::string>> provision(const std::string& name,
                                                         const std::map<std::string, std::string>& args) override;
    Result<std::string> test(const control::PolicyTest& test) override;

private:
    void dispatch(const control::Event& e);
    // Install the admission hook while some policy defines on_host_connect,
    // and only then (without one, Connect never waits for the control thread).
    void update_admission();
    void install_admission();
    bool admission_installed_ = false;
    // Both of the above and the backend error watch: on while some policy
    // needs them (after every load, unload and restore).
    void update_watches();
    void report_backend_errors(const BackendErrors& e);

    ErrorCallback on_error_;
    bool draining_ = false;  // env_ points at it
    PolicyEnvironment env_;  // its on_error forwards to on_error_, which may be set later
    std::map<std::string, std::unique_ptr<Policy>> policies_;
    // Persisted but refused at start (e.g. a state file edited by hand):
    // listed with their error until replaced or unloaded.
    std::map<std::string, control::PolicyInfo> broken_;
    BackendErrorWatch backend_errors_;
    // Control keeps its listeners for its whole life: this tells the one
    // registered here whether the manager still exists.
    std::shared_ptr<PolicyManager*> alive_ = std::make_shared<PolicyManager*>(this);
};

}  // namespace nvmfd::lua
