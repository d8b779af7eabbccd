// The a{sv} "options" arguments of Manager1 methods, read into the control
// API's settings. Unknown keys and wrong value types are InvalidArgument
// errors naming the key, so a typo in a busctl call is caught, not ignored.
// Integer options accept any D-Bus integer type (y q u t n i x) in range,
// because clients such as dbus-send or busctl make the type the caller's
// choice.
#pragma once

#include <map>
#include <string>

#include <sdbus-c++/Types.h>

#include "core/control/control.hpp"

namespace nvmfd::dbus {

using Options = std::map<std::string, sdbus::Variant>;

enum class SubsystemCall { Add, Set };
// data_path s (nvmfd or kernel; Add only: Set refuses it, naming it),
// passthru_device s (Set: empty removes it), serial s, model s,
// allow_any_host b, max_namespaces u, min_cntlid q, max_cntlid q
Result<control::SubsystemSettings> subsystem_settings(const Options& options, SubsystemCall call);
// nsid u, ana_group u, visible_to as, uuid s, nguid s (backend and params are arguments)
Result<void> read_namespace_options(const Options& options, control::NamespaceSettings& into);
// dhchap-secret s, dhchap-ctrl-secret s, tls-psk s (empty: remove),
// dhchap-digests as, dhchap-groups as (empty: all), disconnect b (SetHostKeys only)
Result<control::HostKeyUpdate> host_key_update(const Options& options, bool* disconnect);
// id q, data_path s (nvmfd or kernel), family s, params a{ss}, secure_channel s
// (transport, address and service are arguments)
Result<void> read_port_options(const Options& options, control::PortSettings& into);

}  // namespace nvmfd::dbus
