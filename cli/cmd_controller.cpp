// nvmfctl controller list|show|disconnect
#include <fmt/format.h>

#include "cli/command.hpp"
#include "cli/output.hpp"

namespace nvmfd::cli {
namespace {

const ArgSpec kNqn{"nqn", "the subsystem's NQN (the discovery NQN for discovery controllers)"};
const ArgSpec kCntlid{"cntlid", "controller ID within the subsystem"};

uint16_t cntlid_arg(const std::string& t) { return uint16_t(parse_number(t, "CNTLID", 0xffff)); }

int list(Context& ctx, const ParsedArgs& a) {
    State st = ctx.client.read_state();
    auto only = a.value("subsystem");
    nlohmann::json j = nlohmann::json::array();
    Table t({"SUBSYSTEM", "CNTLID", "HOST NQN", "HOST ADDRESS", "PORT", "IO QUEUES"});
    for (const auto& c : st.controllers) {
        if (only && c.subsystem != *only) continue;
        j.push_back(to_json(c));
        t.add({c.subsystem, std::to_string(c.cntlid), c.host_nqn, c.host_address, std::to_string(c.port),
               c.discovery ? "discovery" : std::to_string(c.io_queues)});
    }
    if (ctx.json) print_json(j);
    else print(t);
    return 0;
}

int show(Context& ctx, const ParsedArgs& a) {
    State st = ctx.client.read_state();
    uint16_t id = cntlid_arg(a.arg(1));
    for (const auto& c : st.controllers) {
        if (c.subsystem != a.arg(0) || c.cntlid != id) continue;
        if (ctx.json) {
            print_json(to_json(c));
            return 0;
        }
        print_line(fmt::format("subsystem:    {}", c.subsystem));
        print_line(fmt::format("cntlid:       {}", c.cntlid));
        print_line(fmt::format("host NQN:     {}", c.host_nqn));
        print_line(fmt::format("host ID:      {}", c.host_id));
        print_line(fmt::format("host address: {}", c.host_address));
        print_line(fmt::format("port:         {}", c.port));
        print_line(fmt::format("kind:         {}", c.discovery ? "discovery" : "I/O"));
        print_line(fmt::format("keep-alive:   {} ms", c.kato_ms));
        print_line(fmt::format("I/O queues:   {}", c.io_queues));
        print_line(fmt::format("enabled:      {}", c.enabled ? "yes" : "no"));
        return 0;
    }
    throw CommandError("org.nvmfd.Error.NotFound", fmt::format("'{}' has no controller {}", a.arg(0), id));
}

int disconnect(Context& ctx, const ParsedArgs& a) {
    uint16_t id = cntlid_arg(a.arg(1));
    ctx.client.call([&](ManagerProxy& m) { m.DisconnectController(a.arg(0), id); });
    done(ctx, fmt::format("controller {} of {} disconnected", id, a.arg(0)));
    return 0;
}

}  // namespace

Group controller_commands() {
    return Group{"controller",
                 "controllers: the hosts connected now, one per host association",
                 {
                     {{"controller", "list", "List connected controllers.", {},
                       {{"subsystem", "NQN", "only this subsystem's controllers"}}, ""},
                      list},
                     {{"controller", "show", "Show a controller.", {kNqn, kCntlid}, {}, ""}, show},
                     {{"controller", "disconnect", "End a host's association now.", {kNqn, kCntlid}, {},
                       "The host may reconnect if it is still allowed; revoke it first to keep it out."},
                      disconnect},
                 },
                 ""};
}

}  // namespace nvmfd::cli
