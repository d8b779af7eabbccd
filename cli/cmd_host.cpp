// nvmfctl host list|allow|revoke
#include <fmt/format.h>

#include "cli/command.hpp"
#include "cli/output.hpp"

namespace nvmfd::cli {
namespace {

const ArgSpec kNqn{"nqn", "the subsystem's NQN"};
const ArgSpec kHost{"hostnqn", "the host's NQN, e.g. nqn.2014-08.org.nvmexpress:uuid:..."};

int list(Context& ctx, const ParsedArgs& a) {
    State st = ctx.client.read_state();
    const SubsystemInfo* s = st.subsystem(a.arg(0));
    if (!s) throw CommandError("org.nvmfd.Error.NotFound", fmt::format("no subsystem '{}'", a.arg(0)));
    if (ctx.json) {
        print_json({{"nqn", s->nqn}, {"allow_any_host", s->allow_any_host}, {"hosts", s->hosts}});
        return 0;
    }
    if (s->allow_any_host) print_line("any host may connect (allow-any-host is on); the list below is kept for when it is off");
    Table t({"HOST NQN"});
    for (const auto& h : s->hosts) t.add({h});
    if (t.empty()) print_line("no hosts on the allowed list");
    else print(t);
    return 0;
}

int allow(Context& ctx, const ParsedArgs& a) {
    ctx.client.call([&](ManagerProxy& m) { m.AllowHost(a.arg(0), a.arg(1)); });
    done(ctx, fmt::format("host {} may connect to {}", a.arg(1), a.arg(0)));
    return 0;
}

int revoke(Context& ctx, const ParsedArgs& a) {
    ctx.client.call([&](ManagerProxy& m) { m.DisallowHost(a.arg(0), a.arg(1)); });
    done(ctx, fmt::format("host {} may no longer connect to {}", a.arg(1), a.arg(0)));
    return 0;
}

}  // namespace

Group host_commands() {
    return Group{"host",
                 "host access: which host NQNs may connect to a subsystem",
                 {
                     {{"host", "list", "List the hosts allowed on a subsystem.", {kNqn}, {}, ""}, list},
                     {{"host", "allow", "Allow a host to connect to a subsystem.", {kNqn, kHost}, {}, ""}, allow},
                     {{"host", "revoke", "Take a host off a subsystem's allowed list.", {kNqn, kHost}, {},
                       "Its connected controllers are disconnected now, unless allow-any-host is on."},
                      revoke},
                 },
                 ""};
}

}  // namespace nvmfd::cli
