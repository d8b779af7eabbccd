// Where an attack goes and where it comes from. Attacks bind their sockets
// to `source` (any 127.0.0.0/8 address works on loopback), so that a target
// that counts per peer address tells the attacker from the host it hurts.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "tools/host/socket.hpp"

namespace nvmfd::attack {

struct AttackTarget {
    std::string address = "127.0.0.1";
    uint16_t port = 4420;
    std::string source;  // empty: whatever the kernel picks
    std::string subnqn = "nqn.2026-11.io.nvmfd:default";
};

// A TCP connection from target.source; throws host::ConnectionError or
// host::TimeoutError (IPv4 and IPv6 numeric addresses).
host::Socket connect_from(const AttackTarget& target, std::chrono::milliseconds timeout);

// Close with a reset (SO_LINGER 0): a flood leaves no TIME_WAIT behind on
// either side and does not run out of source ports.
void close_with_reset(host::Socket& socket);

// True when the peer closed or reset the connection (nothing blocks).
bool peer_closed(const host::Socket& socket);
// Drops the sockets whose peer closed them (one poll() for all); how many.
size_t closed_sockets(std::vector<host::Socket>& sockets);

// Raises this process's RLIMIT_NOFILE soft limit to its hard limit; returns the new soft limit.
uint64_t raise_open_file_limit();

}  // namespace nvmfd::attack
