// The D-Bus management service over the daemon's life: started once the
// exports are restored, and reconnected when the bus goes away (dbus-daemon
// or dbus-broker restarted) while the data path keeps serving.
#pragma once

#include <chrono>
#include <memory>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "core/control/control.hpp"
#include "core/daemon/options.hpp"
#include "dbus/service.hpp"

namespace nvmfd::daemon {

class ManagementBus {
public:
    ManagementBus(boost::asio::io_context& io, control::Control& control, const Options& options);

    // The first connection. Failing on a bus the admin asked for is fatal;
    // on the default bus it is a warning (a quick run where no system bus
    // exists still serves), and nothing is retried.
    Result<void> start();
    // Gives the bus name up (a new nvmfd may take it while this one drains).
    void stop();
    bool serving() const { return service_ != nullptr; }
    // The policy engine the service exposes (set before start()).
    void set_policies(control::PolicyService* policies) { policies_ = policies; }
    // A policy failed: the PolicyError signal, when the bus is up.
    void emit_policy_error(const std::string& policy, const std::string& message);

private:
    Result<std::unique_ptr<dbus::Service>> connect();
    void on_lost(const std::string& why);
    void retry_later();

    boost::asio::io_context& io_;
    control::Control& control_;
    const Options& options_;
    std::unique_ptr<dbus::Service> service_;
    control::PolicyService* policies_ = nullptr;
    boost::asio::steady_timer retry_timer_;
    std::chrono::seconds retry_delay_{1};
    bool stopped_ = false;
};

}  // namespace nvmfd::daemon
