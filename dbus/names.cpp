#include "dbus/names.hpp"

#include <cstdlib>
#include <stdexcept>
#include <systemd/sd-bus.h>

namespace nvmfd::dbus {
namespace {

std::string encode(const char* prefix, std::string_view id) {
    char* out = nullptr;
    std::string text(id);
    if (sd_bus_path_encode(prefix, text.c_str(), &out) < 0 || !out) throw std::bad_alloc();
    std::string path(out);
    std::free(out);
    return path;
}

}  // namespace

std::string subsystem_path(std::string_view nqn) { return encode(kSubsystemPathPrefix, nqn); }

std::string namespace_path(std::string_view nqn, uint32_t nsid) {
    return subsystem_path(nqn) + "/namespace/" + std::to_string(nsid);
}

std::string port_path(uint16_t id) { return std::string(kPortPathPrefix) + "/" + std::to_string(id); }

std::string controller_path(std::string_view subnqn, uint16_t cntlid) {
    return encode(kControllerPathPrefix, subnqn) + "/" + std::to_string(cntlid);
}

}  // namespace nvmfd::dbus
