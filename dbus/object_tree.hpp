// Keeps the objects below /org/nvmfd equal to the control state: sync()
// adds objects for new subsystems, namespaces, ports and controllers
// (InterfacesAdded), removes the gone ones (InterfacesRemoved) and updates
// the rest (PropertiesChanged). Reconciling the whole view, rather than
// patching per event, keeps the tree right whatever changed it: a D-Bus
// call, a config restore, a policy or a host connecting.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>

#include <sdbus-c++/IConnection.h>

#include "core/control/control.hpp"
#include "dbus/manager.hpp"
#include "dbus/objects.hpp"

namespace nvmfd::dbus {

class ObjectTree {
public:
    ObjectTree(sdbus::IConnection& connection, control::Control& control, ManagerObject& manager);
    ~ObjectTree();

    void sync();

private:
    using NsKey = std::pair<std::string, uint32_t>;
    using CtrlKey = std::pair<std::string, uint16_t>;

    sdbus::IConnection& connection_;
    control::Control& control_;
    ManagerObject& manager_;
    std::map<std::string, std::unique_ptr<SubsystemObject>> subsystems_;
    std::map<NsKey, std::unique_ptr<NamespaceObject>> namespaces_;
    std::map<uint16_t, std::unique_ptr<PortObject>> ports_;
    std::map<CtrlKey, std::unique_ptr<ControllerObject>> controllers_;
};

}  // namespace nvmfd::dbus
