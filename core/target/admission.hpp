// Admission: a hook that may refuse a host's admin-queue Connect to an I/O
// subsystem after every static check (subsystem, port, allow-list, limits)
// passed. The core knows only this interface; core/control implements it
// (and runs the decision on the control thread, e.g. in Lua policies).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace nvmfd::target {

// What a hook learns about the host asking to connect.
struct AdmissionQuery {
    std::string host;       // host NQN (printable UTF-8, checked at Connect)
    std::string hostid;     // host ID, as a UUID text
    std::string subsystem;  // subsystem NQN
    uint16_t port = 0;      // the port's id
    std::string address;    // the host's transport address ("10.0.0.7:51234")
};

struct AdmissionVerdict {
    bool allow = true;
    std::string policy;  // who denied (for the refusal's reason)
    std::string reason;  // why
};

class AdmissionHook {
public:
    virtual ~AdmissionHook() = default;
    using Answer = std::function<void(AdmissionVerdict)>;
    // Called on the connection's reactor thread; must not block. `answer`
    // may be called from any thread, at most once; the core bounds the wait
    // (TargetOptions::admission_timeout) and lets the static decision stand
    // if no answer comes.
    virtual void ask(AdmissionQuery query, Answer answer) = 0;
};

// A refused admin-queue Connect, for the management plane (D-Bus
// HostRefused). Texts are escaped for logs and D-Bus.
struct ConnectRefusal {
    std::string host;
    std::string subsystem;
    uint16_t port = 0;
    std::string address;
    std::string reason;
};

}  // namespace nvmfd::target
