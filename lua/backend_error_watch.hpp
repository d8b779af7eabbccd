// Backend I/O errors as a policy event (on_backend_error). The data path
// only counts them (per namespace, per reactor, no locks); while some policy
// handles the event, the control thread looks at the counts every period
// and reports the namespaces whose count grew: at most one event per
// namespace per period however fast a dying device fails, and nothing on
// the I/O path when no policy listens.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "core/control/control.hpp"

namespace nvmfd::lua {

struct BackendErrors {
    std::string subsystem;
    uint32_t nsid = 0;
    uint64_t errors = 0;  // since the last report
    uint64_t total = 0;   // since the namespace was opened
};

class BackendErrorWatch {
public:
    using Report = std::function<void(const BackendErrors&)>;
    static constexpr std::chrono::milliseconds kPeriod{1000};

    BackendErrorWatch(boost::asio::io_context& io, control::Control& control, Report report,
                      std::chrono::milliseconds period = kPeriod);
    ~BackendErrorWatch();
    BackendErrorWatch(const BackendErrorWatch&) = delete;
    BackendErrorWatch& operator=(const BackendErrorWatch&) = delete;

    // On: errors from now on are reported (what happened before is the
    // baseline). Off: the timer stops.
    void set_enabled(bool on);
    bool enabled() const { return enabled_; }

private:
    std::map<std::pair<std::string, uint32_t>, uint64_t> counts() const;
    void arm();
    void tick();

    control::Control& control_;
    Report report_;
    std::chrono::milliseconds period_;
    boost::asio::steady_timer timer_;
    bool enabled_ = false;
    std::map<std::pair<std::string, uint32_t>, uint64_t> last_;
    std::shared_ptr<BackendErrorWatch*> alive_ = std::make_shared<BackendErrorWatch*>(this);
};

}  // namespace nvmfd::lua
