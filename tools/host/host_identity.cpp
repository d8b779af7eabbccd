#include "tools/host/host_identity.hpp"

#include <cctype>
#include <fmt/format.h>
#include <fstream>
#include <random>

namespace nvmfd::host {

namespace {

std::string read_first_line(const char* path) {
    std::ifstream in(path);
    std::string line;
    if (in) std::getline(in, line);
    while (!line.empty() && std::isspace(static_cast<unsigned char>(line.back()))) line.pop_back();
    return line;
}

constexpr const char* kUuidNqnPrefix = "nqn.2014-08.org.nvmexpress:uuid:";

}  // namespace

std::string format_uuid(const std::array<uint8_t, 16>& u) {
    return fmt::format("{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
                       u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14],
                       u[15]);
}

bool parse_uuid(const std::string& text, std::array<uint8_t, 16>& uuid) {
    std::string hex;
    for (char c : text)
        if (c != '-') hex += c;
    if (hex.size() != 32) return false;
    for (size_t i = 0; i < 16; ++i) {
        unsigned value = 0;
        for (size_t j = 0; j < 2; ++j) {
            char c = static_cast<char>(std::tolower(static_cast<unsigned char>(hex[2 * i + j])));
            if (!std::isxdigit(static_cast<unsigned char>(c))) return false;
            value = value * 16 + static_cast<unsigned>(std::isdigit(static_cast<unsigned char>(c)) ? c - '0' : c - 'a' + 10);
        }
        uuid[i] = static_cast<uint8_t>(value);
    }
    return true;
}

HostIdentity random_host_identity() {
    std::random_device rd;
    HostIdentity id;
    for (auto& b : id.hostid) b = static_cast<uint8_t>(rd());
    id.hostid[6] = static_cast<uint8_t>((id.hostid[6] & 0x0f) | 0x40);  // version 4
    id.hostid[8] = static_cast<uint8_t>((id.hostid[8] & 0x3f) | 0x80);  // RFC 4122 variant
    id.hostnqn = kUuidNqnPrefix + format_uuid(id.hostid);
    return id;
}

HostIdentity default_host_identity() {
    HostIdentity id;
    id.hostnqn = read_first_line("/etc/nvme/hostnqn");
    std::string hostid = read_first_line("/etc/nvme/hostid");
    bool have_id = !hostid.empty() && parse_uuid(hostid, id.hostid);
    std::string prefix = kUuidNqnPrefix;
    if (!have_id && id.hostnqn.starts_with(prefix)) have_id = parse_uuid(id.hostnqn.substr(prefix.size()), id.hostid);
    if (id.hostnqn.empty()) return random_host_identity();
    if (!have_id) id.hostid = random_host_identity().hostid;  // keep the configured NQN
    return id;
}

}  // namespace nvmfd::host
