#include "core/daemon/management_bus.hpp"

#include <algorithm>
#include <systemd/sd-daemon.h>

#include "core/runtime/log.hpp"

namespace nvmfd::daemon {

namespace {
constexpr std::chrono::seconds kMaxRetryDelay{30};
}

ManagementBus::ManagementBus(boost::asio::io_context& io, control::Control& control, const Options& options)
    : io_(io), control_(control), options_(options), retry_timer_(io) {}

Result<std::unique_ptr<dbus::Service>> ManagementBus::connect() {
    dbus::ServiceOptions so;
    so.bus = options_.bus == "session" ? dbus::Bus::Session : dbus::Bus::System;
    so.name = options_.dbus_name;
    so.admin_group = options_.admin_group;
    so.version = NVMFD_VERSION;
    so.state_file = options_.state_file;
    so.on_connection_lost = [this](const std::string& why) { on_lost(why); };
    so.policies = policies_;
    return dbus::Service::start(io_, control_, so);
}

void ManagementBus::emit_policy_error(const std::string& policy, const std::string& message) {
    if (service_) service_->emit_policy_error(policy, message);
}

Result<void> ManagementBus::start() {
    if (options_.bus == "none") return {};
    auto started = connect();
    if (started) {
        service_ = std::move(*started);
        return {};
    }
    if (options_.bus_explicit) {
        log::error("{}", started.error().describe());
        sd_notifyf(0, "STATUS=cannot start: %s", started.error().message.c_str());
        return nvmfd::unexpected(started.error());
    }
    log::warn("{}; serving without the D-Bus management API (--bus none silences this)", started.error().describe());
    return {};
}

void ManagementBus::stop() {
    stopped_ = true;
    retry_timer_.cancel();
    service_.reset();
}

// Runs posted by the service's bus loop, never inside it: destroying the
// service here is safe.
void ManagementBus::on_lost(const std::string& why) {
    if (stopped_) return;
    log::error("D-Bus connection lost ({}); hosts are still served; reconnecting", why);
    sd_notify(0, "STATUS=serving; D-Bus connection lost, reconnecting");
    service_.reset();
    retry_delay_ = std::chrono::seconds(1);
    retry_later();
}

void ManagementBus::retry_later() {
    retry_timer_.expires_after(retry_delay_);
    retry_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (ec || stopped_) return;
        auto started = connect();
        if (started) {
            service_ = std::move(*started);
            log::notice("D-Bus: reconnected; {} is served again on the {} bus", options_.dbus_name, options_.bus);
            sd_notifyf(0, "STATUS=serving %zu subsystem(s); managed as %s on the %s bus",
                       control_.export_spec().subsystems.size(), options_.dbus_name.c_str(), options_.bus.c_str());
            return;
        }
        retry_delay_ = std::min(retry_delay_ * 2, kMaxRetryDelay);
        log::warn("D-Bus: cannot reconnect yet ({}); next try in {} s", started.error().describe(),
                  retry_delay_.count());
        retry_later();
    });
}

}  // namespace nvmfd::daemon
