// What nvmfctl shows: the daemon's objects as plain structs, read from one
// ObjectManager.GetManagedObjects call plus the Manager's properties, and
// their JSON form for --json (stable keys, snake_case like the state file).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <sdbus-c++/Types.h>

namespace nvmfd::cli {

struct NamespaceInfo {
    std::string subsystem;
    uint32_t nsid = 0;
    std::string backend;
    std::map<std::string, std::string> params;
    std::string uuid, nguid;
    uint32_t ana_group = 1;
    std::vector<std::string> visible_to;
    uint64_t size_bytes = 0;
    bool online = false;
    std::string offline_reason;
    uint64_t read_commands = 0, write_commands = 0, read_bytes = 0, write_bytes = 0, errors = 0;
};

struct SubsystemInfo {
    std::string nqn, serial, model;
    std::string data_path = "nvmfd";
    std::string passthru_device;  // empty: none
    bool allow_any_host = false;
    std::vector<std::string> hosts;
    uint32_t max_namespaces = 0;
    uint16_t min_cntlid = 0;
    uint16_t max_cntlid = 0;
    std::vector<uint16_t> ports;
    std::vector<NamespaceInfo> namespaces;  // by NSID
};

struct PortInfo {
    uint16_t id = 0;
    std::string transport, family, address, service;
    std::map<std::string, std::string> params;
    std::vector<std::string> subsystems;
    std::map<uint32_t, std::string> ana_states;
    std::string secure_channel = "none";
    std::string data_path = "nvmfd";
    bool online = false;
    std::string offline_reason;
};

struct ControllerInfo {
    std::string subsystem;
    uint16_t cntlid = 0;
    std::string host_nqn, host_id, host_address;
    uint16_t port = 0;
    bool discovery = false;
    uint32_t kato_ms = 0;
    uint16_t io_queues = 0;
    bool enabled = false;
};

struct State {
    std::string version, state_file, admin_group;
    std::vector<uint32_t> ana_groups;
    std::vector<std::pair<std::string, std::string>> offline;  // what, reason
    std::vector<std::string> kernel_drift;                     // held back at start; see 'kernel apply'
    std::vector<SubsystemInfo> subsystems;                     // by NQN
    std::vector<PortInfo> ports;                               // by id
    std::vector<ControllerInfo> controllers;                   // by subsystem, cntlid

    const SubsystemInfo* subsystem(const std::string& nqn) const;
    const PortInfo* port(uint16_t id) const;
};

using Properties = std::map<std::string, sdbus::Variant>;
using ManagedObjects = std::map<sdbus::ObjectPath, std::map<std::string, Properties>>;

State build_state(const Properties& manager, const ManagedObjects& objects);

nlohmann::json to_json(const NamespaceInfo& n);
nlohmann::json to_json(const SubsystemInfo& s);
nlohmann::json to_json(const PortInfo& p);
nlohmann::json to_json(const ControllerInfo& c);
nlohmann::json to_json(const State& s);

}  // namespace nvmfd::cli
